// Human-facing strings of the proxy domain, in English and Russian.
import { defineMessages } from './define.js';

export const proxyMessages = defineMessages({
  en: {},
  ru: {},
});
