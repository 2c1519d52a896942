// Human-facing strings of the trace domain, in English and Russian.
import { defineMessages } from './define.js';

export const traceMessages = defineMessages({
  en: {},
  ru: {},
});
