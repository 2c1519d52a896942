// Human-facing strings of the doctor domain, in English and Russian.
import { defineMessages } from './define.js';

export const doctorMessages = defineMessages({
  en: {},
  ru: {},
});
