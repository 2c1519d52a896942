// Human-facing strings of `kmi proxy` (start-up, client hints, shutdown), in English and Russian.
import { defineMessages } from './define.js';

export const proxyCmdMessages = defineMessages({
  en: {
    'proxyCmd.replaced': 'stopped the kmi proxy that was running (pid {pid})',
    'proxyCmd.started': 'kmi proxy running at {url} (pid {pid}); output goes to {log}',
    'proxyCmd.dashboard': 'dashboard: {url}',
    'proxyCmd.envIntro': 'point your clients at it:',
    'proxyCmd.tokenHint':
      'API key for clients: the value of KMI_PROXY_TOKEN (the real keys stay in the proxy)',
    'proxyCmd.keyHint':
      'API key for clients: any placeholder, e.g. KIMI_API_KEY=proxy (the real keys stay in the proxy)',
    'proxyCmd.noKeys': 'no keys to serve: add auth files to {dir} (see kmi status)',
    'proxyCmd.listening': 'kmi proxy listening at {url} with {keys} key(s); Ctrl-C stops it',
    'proxyCmd.daemonLog': 'running in the background; output goes to {log}',
    'proxyCmd.stopping': 'received {signal}: finishing in-flight requests, then stopping',
  },
  ru: {
    'proxyCmd.replaced': 'остановлен ранее запущенный прокси kmi (pid {pid})',
    'proxyCmd.started': 'прокси kmi работает на {url} (pid {pid}); вывод пишется в {log}',
    'proxyCmd.dashboard': 'панель: {url}',
    'proxyCmd.envIntro': 'настройте клиентов так:',
    'proxyCmd.tokenHint':
      'API-ключ для клиентов: значение KMI_PROXY_TOKEN (настоящие ключи остаются в прокси)',
    'proxyCmd.keyHint':
      'API-ключ для клиентов: любая заглушка, например KIMI_API_KEY=proxy (настоящие ключи остаются в прокси)',
    'proxyCmd.noKeys': 'нет ключей: добавьте файлы ключей в {dir} (см. kmi status)',
    'proxyCmd.listening': 'прокси kmi слушает {url}, ключей: {keys}; Ctrl-C — остановить',
    'proxyCmd.daemonLog': 'работает в фоне; вывод пишется в {log}',
    'proxyCmd.stopping': 'получен {signal}: завершаем текущие запросы и останавливаемся',
  },
});
