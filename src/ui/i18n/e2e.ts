// Human-facing strings of `kmi e2e`, in English and Russian.
import { defineMessages } from './define.js';

export const e2eMessages = defineMessages({
  en: {
    'e2e.badNumber': '{name} takes a number ≥ {min} (got "{value}")',
    'e2e.noEligible':
      'no key can serve right now (all disabled, blocked or cooling down); see kmi status',
    'e2e.startingProxy': 'no proxy answers: starting one for the check (it is stopped afterwards)…',
    'e2e.distribution': 'distribution over the last window:',
    'e2e.errorSample': 'error: {error}',
    'e2e.ok': 'E2E OK (confidence {confidence}%)',
    'e2e.warn':
      'E2E WARN (confidence {confidence}%, {errors} errors): keys are not sharing the load evenly',
  },
  ru: {
    'e2e.badNumber': '{name} принимает число ≥ {min} (получено "{value}")',
    'e2e.noEligible':
      'сейчас ни один ключ не может обслуживать запросы (все отключены, заблокированы или на паузе); см. kmi status',
    'e2e.startingProxy':
      'прокси не отвечает: запускаем его для проверки (потом он будет остановлен)…',
    'e2e.distribution': 'распределение за последнее окно:',
    'e2e.errorSample': 'ошибка: {error}',
    'e2e.ok': 'E2E OK (равномерность {confidence}%)',
    'e2e.warn':
      'E2E WARN (равномерность {confidence}%, ошибок: {errors}): ключи делят нагрузку неравномерно',
  },
});
