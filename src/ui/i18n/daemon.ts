// Human-facing strings of the background proxy (daemon) commands, in English and Russian.
import { defineMessages } from './define.js';

export const daemonMessages = defineMessages({
  en: {
    'daemon.portHeld':
      'port {port} is held by another program (pid {pid}); stop it or set KMI_PROXY_LISTEN to a free port',
    'daemon.spawnFailed': 'could not start the proxy process; see {log}',
    'daemon.exitedEarly': 'the proxy exited during start-up; last lines of {log}:\n{lines}',
    'daemon.startTimeout':
      'the proxy did not answer its health check in time; last lines of {log}:\n{lines}',
    'daemon.notRunning': 'no kmi proxy is running',
    'daemon.staleRemoved': 'removed a stale pid file (its process was gone or was not a kmi proxy)',
    'daemon.stopped': 'stopped the kmi proxy (pid {pid})',
    'daemon.killed': 'the kmi proxy (pid {pid}) did not stop in time and was killed',
  },
  ru: {
    'daemon.portHeld':
      'порт {port} занят другой программой (pid {pid}); остановите её или укажите свободный порт в KMI_PROXY_LISTEN',
    'daemon.spawnFailed': 'не удалось запустить процесс прокси; см. {log}',
    'daemon.exitedEarly': 'прокси завершился при запуске; последние строки {log}:\n{lines}',
    'daemon.startTimeout':
      'прокси не ответил на проверку здоровья вовремя; последние строки {log}:\n{lines}',
    'daemon.notRunning': 'прокси kmi не запущен',
    'daemon.staleRemoved': 'удалён устаревший pid-файл (процесса нет или это не прокси kmi)',
    'daemon.stopped': 'прокси kmi остановлен (pid {pid})',
    'daemon.killed': 'прокси kmi (pid {pid}) не остановился вовремя и был завершён принудительно',
  },
});
