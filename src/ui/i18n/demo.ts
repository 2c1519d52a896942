// Human-facing strings of `kmi demo`, in English and Russian.
import { defineMessages } from './define.js';

export const demoMessages = defineMessages({
  en: {
    'demo.intro':
      'kmi demo: three demo keys, a simulated Kimi upstream (no network, no real keys) and the real proxy at {url}',
    'demo.tempDir': 'temporary folder: {dir}',
    'demo.sending':
      'Sending {n} requests through the proxy (OpenAI chat, streaming chat, Anthropic messages, models):',
    'demo.phaseFault': 'from request #{n} on, the simulated upstream answers {label} with {fault}',
    'demo.fault.ok': '200 (ok)',
    'demo.fault.429': '429 (rate limited)',
    'demo.fault.402': '402 (payment required)',
    'demo.fault.401': '401 (invalid key)',
    'demo.fault.5xx': '503 (overloaded)',
    'demo.streamTag': 'stream',
    'demo.after': 'after {labels}',
    'demo.requestsOk': '{ok} of {n} requests got a correct answer; no error reached the client',
    'demo.requestsFailed': '{failed} of {n} demo requests did not get the expected answer',
    'demo.keysTitle': 'Keys, as the proxy sees them now:',
    'demo.col.label': 'label',
    'demo.col.key': 'key',
    'demo.col.requests': 'requests',
    'demo.col.errors': 'errors',
    'demo.col.state': 'state',
    'demo.state.ok': 'ok',
    'demo.state.blocked': 'blocked ({reason})',
    'demo.state.blockedUntil': 'blocked ({reason}) until {until}',
    'demo.state.exhaustedUntil': 'cooling down until {until}',
    'demo.failoversTitle': 'Failovers (errors the client never saw):',
    'demo.failoverLine': '#{n} {method} {endpoint}: {from} → served by {to} ({status})',
    'demo.failoverNone': 'no failovers happened',
    'demo.traceTitle': 'Trace (one record per request, as kmi trace shows it):',
    'demo.confidence':
      'Rotation confidence: {value} ({sample} requests served by the keys eligible now: {eligible})',
    'demo.confidenceLow': 'below 95%: the keys were not used evenly',
    'demo.confidenceNone': 'n/a',
    'demo.nextTitle': 'Next steps with your real keys:',
    'demo.next.auth': 'put one file per key in _auths/:',
    'demo.next.check': 'check that they load:',
    'demo.next.live':
      'start the proxy with live traffic (or copy .env.example to .env, which sets KMI_DRY_RUN=0):',
    'demo.next.env': 'point your clients at it:',
    'demo.cleaned': 'Demo finished: proxy stopped, temporary folder removed.',
    'demo.notCleaned':
      'Demo finished, but the temporary folder {dir} could not be removed; delete it by hand.',
    'demo.keepRunning':
      'The demo proxy keeps running at {url}; its faults are cleared, so all three keys serve again.',
    'demo.keepTry': 'try it from another terminal:',
    'demo.keepStop': 'Ctrl-C stops it and removes {dir}.',
    'demo.keepStopping':
      'received {signal}: stopping the demo proxy and removing its temporary folder',
  },
  ru: {
    'demo.intro':
      'kmi demo: три демо-ключа, симулированный API Kimi (без сети и без настоящих ключей) и настоящий прокси на {url}',
    'demo.tempDir': 'временная папка: {dir}',
    'demo.sending':
      'Отправляем {n} запросов через прокси (чат OpenAI, потоковый чат, сообщения Anthropic, список моделей):',
    'demo.phaseFault': 'начиная с запроса №{n} симулятор отвечает ключу {label} кодом {fault}',
    'demo.fault.ok': '200 (успех)',
    'demo.fault.429': '429 (превышен лимит запросов)',
    'demo.fault.402': '402 (требуется оплата)',
    'demo.fault.401': '401 (неверный ключ)',
    'demo.fault.5xx': '503 (перегрузка)',
    'demo.streamTag': 'поток',
    'demo.after': 'после {labels}',
    'demo.requestsOk':
      'Правильный ответ получили {ok} из {n} запросов; ни одна ошибка не дошла до клиента',
    'demo.requestsFailed': '{failed} из {n} демо-запросов не получили ожидаемого ответа',
    'demo.keysTitle': 'Ключи — так, как их сейчас видит прокси:',
    'demo.col.label': 'метка',
    'demo.col.key': 'ключ',
    'demo.col.requests': 'запросы',
    'demo.col.errors': 'ошибки',
    'demo.col.state': 'состояние',
    'demo.state.ok': 'в порядке',
    'demo.state.blocked': 'заблокирован ({reason})',
    'demo.state.blockedUntil': 'заблокирован ({reason}) до {until}',
    'demo.state.exhaustedUntil': 'на паузе до {until}',
    'demo.failoversTitle': 'Переключения на другой ключ (клиент этих ошибок не увидел):',
    'demo.failoverLine': '№{n} {method} {endpoint}: {from} → ответил {to} ({status})',
    'demo.failoverNone': 'переключений не было',
    'demo.traceTitle': 'Трасса (одна запись на запрос, как в kmi trace):',
    'demo.confidence':
      'Равномерность ротации: {value} (запросов, обслуженных ключами, доступными сейчас: {sample}; доступны: {eligible})',
    'demo.confidenceLow': 'ниже 95%: ключи использовались неравномерно',
    'demo.confidenceNone': 'н/д',
    'demo.nextTitle': 'Что дальше — с вашими настоящими ключами:',
    'demo.next.auth': 'положите по одному файлу на ключ в _auths/:',
    'demo.next.check': 'проверьте, что они загружаются:',
    'demo.next.live':
      'запустите прокси с настоящими запросами (или скопируйте .env.example в .env — там KMI_DRY_RUN=0):',
    'demo.next.env': 'настройте клиентов так:',
    'demo.cleaned': 'Демо завершено: прокси остановлен, временная папка удалена.',
    'demo.notCleaned':
      'Демо завершено, но временную папку {dir} удалить не удалось; удалите её вручную.',
    'demo.keepRunning':
      'Демо-прокси продолжает работать на {url}; ошибки симулятора сняты, все три ключа снова отвечают.',
    'demo.keepTry': 'попробуйте из другого терминала:',
    'demo.keepStop': 'Ctrl-C остановит его и удалит {dir}.',
    'demo.keepStopping': 'получен {signal}: останавливаем демо-прокси и удаляем временную папку',
  },
});
