// Human-facing strings of the kimi domain, in English and Russian.
import { defineMessages } from './define.js';

export const kimiMessages = defineMessages({
  en: {},
  ru: {},
});
