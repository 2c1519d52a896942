// Human-facing strings of the kimi domain, in English and Russian.
import { defineMessages } from './define.js';

export const kimiMessages = defineMessages({
  en: {
    'kimi.configUnparsable':
      'the Kimi config {file} is not valid TOML ({reason}); it was left untouched: fix it or move it away',
    'kimi.configUnreadable': 'cannot read the Kimi config {file} ({reason}); check its permissions',
    'kimi.configWriteFailed':
      'cannot write the Kimi config {file} ({reason}); the previous file is unchanged',
    'kimi.configWritten': 'wrote {label} into {file} (provider {provider})',
    'kimi.configCreated': 'created {file} for {label} (provider {provider})',
    'kimi.backupCreated': 'previous config kept as {file}',
    'kimi.backupsRemoved': 'removed {count} older config backups (the last 5 are kept)',
    'kimi.currentNotInPool': 'the Kimi config uses a key that is not in the pool ({masked})',
    'kimi.noCurrentKey': 'the Kimi config {file} names no API key',
  },
  ru: {
    'kimi.configUnparsable':
      'конфигурация Kimi {file} не является корректным TOML ({reason}); файл не тронут: исправьте его или переместите',
    'kimi.configUnreadable':
      'не удаётся прочитать конфигурацию Kimi {file} ({reason}); проверьте права доступа',
    'kimi.configWriteFailed':
      'не удаётся записать конфигурацию Kimi {file} ({reason}); прежний файл не изменён',
    'kimi.configWritten': '{label} записан в {file} (провайдер {provider})',
    'kimi.configCreated': 'создан {file} для {label} (провайдер {provider})',
    'kimi.backupCreated': 'прежняя конфигурация сохранена как {file}',
    'kimi.backupsRemoved': 'удалено старых резервных копий: {count} (хранятся последние 5)',
    'kimi.currentNotInPool': 'конфигурация Kimi использует ключ не из пула ({masked})',
    'kimi.noCurrentKey': 'в конфигурации Kimi {file} не указан API-ключ',
  },
});
