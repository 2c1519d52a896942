// Human-facing strings of the daemon domain, in English and Russian.
import { defineMessages } from './define.js';

export const daemonMessages = defineMessages({
  en: {},
  ru: {},
});
