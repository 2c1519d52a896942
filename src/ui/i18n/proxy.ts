// Human-facing strings of the proxy domain, in English and Russian.
import { defineMessages } from './define.js';

export const proxyMessages = defineMessages({
  en: {
    'proxy.bind.remoteNotAllowed':
      'refusing to listen on {host}: it is not a loopback address; set KMI_PROXY_ALLOW_REMOTE=1 (and KMI_PROXY_TOKEN) to accept remote clients, or use KMI_PROXY_LISTEN=127.0.0.1:{port}',
    'proxy.bind.tokenRequired':
      'refusing to listen on {host} without a token: set KMI_PROXY_TOKEN (clients send it as x-kmi-proxy-token or Authorization: Bearer)',
    'proxy.bind.tlsRequired':
      'refusing to listen on {host} over plain HTTP: put a TLS terminator in front and set KMI_PROXY_TLS_TERMINATED=1 (or set KMI_PROXY_REQUIRE_TLS=0 to accept the risk)',
    'proxy.portInUse':
      'cannot listen on {host}:{port}: the port is already in use (change KMI_PROXY_LISTEN)',
    'proxy.listenFailed': 'cannot listen on {host}:{port} ({reason}); check KMI_PROXY_LISTEN',
    'proxy.listening': 'kmi proxy listening on {url}',
    'proxy.stopping': 'stopping kmi proxy: letting in-flight requests finish (up to {seconds} s)…',
    'proxy.stopped': 'kmi proxy stopped',
    'proxy.keyUpstreamRejected':
      'key {label}: its base_url is not allowed ({problem}); the proxy will not use this key',
    'proxy.noKeys': 'no keys to serve with: add auth files to {dir}',
  },
  ru: {
    'proxy.bind.remoteNotAllowed':
      'отказ слушать {host}: это не loopback-адрес; задайте KMI_PROXY_ALLOW_REMOTE=1 (и KMI_PROXY_TOKEN), чтобы принимать удалённых клиентов, или используйте KMI_PROXY_LISTEN=127.0.0.1:{port}',
    'proxy.bind.tokenRequired':
      'отказ слушать {host} без токена: задайте KMI_PROXY_TOKEN (клиенты передают его в x-kmi-proxy-token или Authorization: Bearer)',
    'proxy.bind.tlsRequired':
      'отказ слушать {host} по открытому HTTP: поставьте перед прокси TLS-терминатор и задайте KMI_PROXY_TLS_TERMINATED=1 (или KMI_PROXY_REQUIRE_TLS=0, если риск приемлем)',
    'proxy.portInUse':
      'не удаётся слушать {host}:{port}: порт уже занят (измените KMI_PROXY_LISTEN)',
    'proxy.listenFailed': 'не удаётся слушать {host}:{port} ({reason}); проверьте KMI_PROXY_LISTEN',
    'proxy.listening': 'kmi proxy слушает {url}',
    'proxy.stopping': 'остановка kmi proxy: ждём завершения текущих запросов (до {seconds} с)…',
    'proxy.stopped': 'kmi proxy остановлен',
    'proxy.keyUpstreamRejected':
      'ключ {label}: его base_url не разрешён ({problem}); прокси не будет использовать этот ключ',
    'proxy.noKeys': 'нет ключей для работы: добавьте файлы ключей в {dir}',
  },
});
