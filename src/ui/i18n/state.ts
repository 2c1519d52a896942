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
    'state.redisUnreachable':
      'cannot reach the shared state at {url} (KMI_STATE_URL): {reason}; start Redis or fix KMI_STATE_URL, then try again',
    'state.redisError': 'the shared state at {url} answered with an error: {reason}',
    'state.redisBusy':
      'the shared state at {url} kept changing under this write ({tries} tries); try again',
    'state.redisStartFailed':
      'cannot reach the shared state at {url} (KMI_STATE_URL): {reason}. Start Redis or fix KMI_STATE_URL; KMI_STATE_FAIL_OPEN=1 starts from the last known state instead',
    'state.redisFailOpen':
      'the shared state at {url} is unreachable ({reason}); KMI_STATE_FAIL_OPEN=1: using the last known state from {cache} until it is back',
    'state.redisFailOpenEmpty':
      'the shared state at {url} is unreachable ({reason}) and there is no local copy; KMI_STATE_FAIL_OPEN=1: starting from an empty state until it is back',
    'state.redisDown':
      'lost the shared state at {url} ({reason}); serving from the last known state until it is back',
    'state.redisUp': 'the shared state at {url} is back; resynchronised',
    'state.redisReseeded':
      'the shared state at {url} came back empty; the last known state was written back',
    'state.migrateDone': 'copied the state ({keys} keys) from {from} to {to}',
    'state.migrateNotEmpty':
      '{to} already holds a state ({keys} keys); add --force to overwrite it',
    'state.migrateSame': '{to} is the current state backend; nothing to copy',
    'state.migrateBadTarget':
      '--to must be a redis:// or rediss:// URL, a folder, or a path to state.json (got "{to}")',
    'state.doctorFile': 'state: file store {path}',
    'state.doctorFileNew': 'state: file store {path} (created on first use)',
    'state.doctorFileUnwritable': 'state folder {path} is not writable ({reason})',
    'state.doctorRedisOk': 'state: Redis at {url} (server {version}, {keys} keys)',
    'state.doctorRedisDown': 'state: Redis at {url} is unreachable ({reason})',
    'state.fix.fileDir': 'make {path} writable for this user, or point KMI_STATE_DIR elsewhere',
    'state.fix.redis':
      'start Redis at {url} or fix KMI_STATE_URL; KMI_STATE_FAIL_OPEN=1 lets kmi start from its last known state meanwhile',
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
    'state.redisUnreachable':
      'нет связи с общим состоянием {url} (KMI_STATE_URL): {reason}; запустите Redis или исправьте KMI_STATE_URL и повторите попытку',
    'state.redisError': 'общее состояние {url} ответило ошибкой: {reason}',
    'state.redisBusy':
      'общее состояние {url} всё время менялось во время записи ({tries} попыток); повторите попытку',
    'state.redisStartFailed':
      'нет связи с общим состоянием {url} (KMI_STATE_URL): {reason}. Запустите Redis или исправьте KMI_STATE_URL; с KMI_STATE_FAIL_OPEN=1 kmi начнёт с последнего известного состояния',
    'state.redisFailOpen':
      'общее состояние {url} недоступно ({reason}); KMI_STATE_FAIL_OPEN=1: используется последнее известное состояние из {cache}, пока связь не вернётся',
    'state.redisFailOpenEmpty':
      'общее состояние {url} недоступно ({reason}), локальной копии нет; KMI_STATE_FAIL_OPEN=1: работа с пустого состояния, пока связь не вернётся',
    'state.redisDown':
      'потеряна связь с общим состоянием {url} ({reason}); работа по последнему известному состоянию, пока связь не вернётся',
    'state.redisUp': 'связь с общим состоянием {url} восстановлена; состояние синхронизировано',
    'state.redisReseeded':
      'общее состояние {url} вернулось пустым; в него записано последнее известное состояние',
    'state.migrateDone': 'состояние ({keys} ключей) скопировано из {from} в {to}',
    'state.migrateNotEmpty':
      '{to} уже содержит состояние ({keys} ключей); добавьте --force, чтобы перезаписать его',
    'state.migrateSame': '{to} и есть текущее хранилище состояния; копировать нечего',
    'state.migrateBadTarget':
      '--to должен быть адресом redis:// или rediss://, папкой или путём к state.json (получено "{to}")',
    'state.doctorFile': 'состояние: файл {path}',
    'state.doctorFileNew': 'состояние: файл {path} (будет создан при первом использовании)',
    'state.doctorFileUnwritable': 'папка состояния {path} недоступна для записи ({reason})',
    'state.doctorRedisOk': 'состояние: Redis {url} (сервер {version}, ключей: {keys})',
    'state.doctorRedisDown': 'состояние: Redis {url} недоступен ({reason})',
    'state.fix.fileDir':
      'дайте этому пользователю право записи в {path} или укажите другой KMI_STATE_DIR',
    'state.fix.redis':
      'запустите Redis по адресу {url} или исправьте KMI_STATE_URL; с KMI_STATE_FAIL_OPEN=1 kmi пока начнёт с последнего известного состояния',
  },
});
