// Human-facing strings of the state domain, in English and Russian.
import { defineMessages } from './define.js';

export const stateMessages = defineMessages({
  en: {},
  ru: {},
});
