// Human-facing strings of the demo domain, in English and Russian.
import { defineMessages } from './define.js';

export const demoMessages = defineMessages({
  en: {},
  ru: {},
});
