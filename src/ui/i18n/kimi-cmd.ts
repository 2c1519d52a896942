// Human-facing strings of `kmi kimi`, in English and Russian.
import { defineMessages } from './define.js';

export const kimiCmdMessages = defineMessages({
  en: {
    'kimiCmd.notInstalled':
      'the kimi command was not found on PATH; install the Kimi CLI (e.g. `uv tool install kimi-cli`) and try again',
    'kimiCmd.startingProxy': 'starting the kmi proxy first…',
  },
  ru: {
    'kimiCmd.notInstalled':
      'команда kimi не найдена в PATH; установите Kimi CLI (например, `uv tool install kimi-cli`) и повторите',
    'kimiCmd.startingProxy': 'сначала запускаем прокси kmi…',
  },
});
