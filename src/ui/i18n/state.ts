// Human-facing strings of the state domain, in English and Russian.
import { defineMessages } from './define.js';

export const stateMessages = defineMessages({
  en: {
    'state.lockTimeout':
      'could not lock {path} within {seconds}s: another kmi process is holding it; try again, or remove the lock folder if no kmi is running',
    'state.lockFailed': 'could not lock {path} ({reason}); check that the folder is writable',
    'state.lockLost':
      'lost the lock on {path} while changing state (the process was paused for too long); nothing was written, try again',
    'state.readFailed': 'cannot read {path} ({reason}); check its permissions',
    'state.writeFailed': 'cannot write {path} ({reason}); check free disk space and permissions',
    'state.dirFailed':
      'cannot create the state folder {path} ({reason}); check KMI_STATE_DIR and permissions',
    'state.corrupt':
      'state file {path} was unreadable ({reason}); it was kept as {movedTo} and a fresh state was started',
    'state.permissionsFixed': 'tightened permissions of {path} to {mode}',
    'state.watchError':
      'cannot follow changes of {path} ({reason}); restart to pick up CLI changes',
  },
  ru: {
    'state.lockTimeout':
      'не удалось заблокировать {path} за {seconds} с: его держит другой процесс kmi; повторите попытку или удалите папку блокировки, если kmi не запущен',
    'state.lockFailed':
      'не удалось заблокировать {path} ({reason}); проверьте, что папка доступна для записи',
    'state.lockLost':
      'блокировка {path} потеряна во время изменения состояния (процесс был приостановлен слишком долго); ничего не записано, повторите попытку',
    'state.readFailed': 'не удаётся прочитать {path} ({reason}); проверьте права доступа',
    'state.writeFailed':
      'не удаётся записать {path} ({reason}); проверьте свободное место и права доступа',
    'state.dirFailed':
      'не удаётся создать папку состояния {path} ({reason}); проверьте KMI_STATE_DIR и права доступа',
    'state.corrupt':
      'файл состояния {path} не читался ({reason}); он сохранён как {movedTo}, начато новое состояние',
    'state.permissionsFixed': 'права доступа к {path} ужесточены до {mode}',
    'state.watchError':
      'не удаётся отслеживать изменения {path} ({reason}); перезапустите, чтобы увидеть изменения из CLI',
  },
});
