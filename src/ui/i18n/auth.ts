// Human-facing strings of the auth domain, in English and Russian.
import { defineMessages } from './define.js';

export const authMessages = defineMessages({
  en: {},
  ru: {},
});
