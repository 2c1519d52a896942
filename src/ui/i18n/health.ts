// Human-facing strings of the health domain, in English and Russian.
import { defineMessages } from './define.js';

export const healthMessages = defineMessages({
  en: {},
  ru: {},
});
