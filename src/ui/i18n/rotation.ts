// Human-facing strings of the rotation domain, in English and Russian.
import { defineMessages } from './define.js';

export const rotationMessages = defineMessages({
  en: {},
  ru: {},
});
