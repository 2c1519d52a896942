// Whether an upstream error text speaks of payment/billing, by whole phrases only ("plan" in "explanation" is not one).

/** Latin phrases matched as whole words, case-insensitive, any whitespace between words. */
const LATIN_PHRASES = [
  'payment required',
  'payment overdue',
  'payment failed',
  'insufficient balance',
  'insufficient funds',
  'insufficient credit',
  'insufficient credits',
  'balance insufficient',
  'membership expired',
  'membership has expired',
  'subscription expired',
  'subscription has expired',
  'account overdue',
  'account is overdue',
  'arrears',
  'recharge',
  'top up',
  'billing',
];

/** CJK phrases have no word boundaries; matched as substrings. */
const CJK_PHRASES = ['欠费', '余额不足', '充值', '会员已过期', '会员过期'];

const LATIN_RE = new RegExp(
  `(?<![A-Za-z0-9_])(?:${LATIN_PHRASES.map((p) => p.split(' ').join('\\s+')).join('|')})(?![A-Za-z0-9_])`,
  'i',
);

export function hasPaymentPhrase(text: string): boolean {
  if (text === '') return false;
  return LATIN_RE.test(text) || CJK_PHRASES.some((p) => text.includes(p));
}
