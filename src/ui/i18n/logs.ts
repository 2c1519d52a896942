// Human-facing strings of `kmi proxy-logs`, in English and Russian.
import { defineMessages } from './define.js';

export const logsMessages = defineMessages({
  en: {
    'logs.badSince':
      '--since takes 30s, 10m, 2h, 1d or a time like 2026-03-01T14:00 (got "{value}")',
    'logs.badLines': '--lines takes a whole number (got "{value}")',
    'logs.missingDaemon': 'no daemon log yet at {path}; start the proxy with kmi proxy',
    'logs.missingApp': 'no app log yet at {path}; it is written once kmi has something to record',
  },
  ru: {
    'logs.badSince':
      '--since принимает 30s, 10m, 2h, 1d или время вида 2026-03-01T14:00 (получено "{value}")',
    'logs.badLines': '--lines принимает целое число (получено "{value}")',
    'logs.missingDaemon': 'журнала демона ещё нет ({path}); запустите прокси командой kmi proxy',
    'logs.missingApp':
      'журнала приложения ещё нет ({path}); он появится, когда kmi будет что записать',
  },
});
