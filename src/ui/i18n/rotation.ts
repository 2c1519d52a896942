// Human-facing strings of the rotation domain, in English and Russian.
import { defineMessages } from './define.js';

export const rotationMessages = defineMessages({
  en: {
    'rotation.reason.noEligible':
      'no eligible key among {total}: only healthy keys are used (set KMI_ROTATE_INCLUDE_WARN=1 to allow warn keys)',
    'rotation.reason.noEligibleWithWarn': 'no eligible key among {total}: none is healthy or warn',
    'rotation.reason.only': '{label} is the only eligible key ({status}, {used} used)',
    'rotation.reason.currentBest':
      'the current key {label} is still the best ({status}, {used} used, priority {priority})',
    'rotation.reason.bestStatus':
      '{label} is the only {status} key with the least usage ({used} used)',
    'rotation.reason.lowestUsage':
      '{label} has the lowest usage of its tighter window ({used} used; next best {other}: {otherUsed})',
    'rotation.reason.priority':
      '{label} ties on usage ({used} used) and has the higher priority ({priority} vs {otherPriority} of {other})',
    'rotation.reason.leastRecent':
      '{label} is the least recently used of {count} keys tied for best ({used} used, priority {priority})',
    'rotation.reason.tieNext':
      'the current key {current} is tied for best with {count} keys; moving on to the next one, {label} (KMI_ROTATE_ON_TIE=1)',
    'rotation.reason.tieKeep':
      'the current key {current} is tied for best with {count} keys; keeping it (KMI_ROTATE_ON_TIE=0)',
    'rotation.chosen': 'selected {label}',
    'rotation.unchanged': 'keeping {label}: it is already the current key',
    'rotation.notWrittenDryRun':
      'dry-run is on: the Kimi config was not written (set KMI_DRY_RUN=0 to write it)',
    'rotation.notWrittenDisabled': 'KMI_WRITE_CONFIG=0: the Kimi config was not written',
    'rotation.autoNotAllowed':
      'auto-rotation is not allowed; set KMI_AUTO_ROTATE_ALLOWED=1 to permit it',
    'rotation.autoEnabled': 'auto-rotation is on (e2e check off: KMI_AUTO_ROTATE_E2E=0)',
    'rotation.autoEnabledE2e': 'auto-rotation is on (e2e check passed: {summary})',
    'rotation.autoEnabledE2eSkipped': 'auto-rotation is on (e2e check skipped)',
    'rotation.autoE2eFailed':
      'auto-rotation was not enabled: the e2e check failed ({summary}); fix it, or set KMI_AUTO_ROTATE_E2E=0 to skip the check',
    'rotation.autoDisabled': 'auto-rotation is off',
    'rotation.autoAlreadyOff': 'auto-rotation was already off',
  },
  ru: {
    'rotation.reason.noEligible':
      'среди {total} ключей нет подходящих: используются только исправные (KMI_ROTATE_INCLUDE_WARN=1 разрешит ключи со статусом «внимание»)',
    'rotation.reason.noEligibleWithWarn':
      'среди {total} ключей нет подходящих: ни один не исправен и не в статусе «внимание»',
    'rotation.reason.only':
      '{label} — единственный подходящий ключ ({status}, использовано {used})',
    'rotation.reason.currentBest':
      'текущий ключ {label} по-прежнему лучший ({status}, использовано {used}, приоритет {priority})',
    'rotation.reason.bestStatus':
      '{label} — единственный ключ со статусом «{status}» и наименьшим использованием (использовано {used})',
    'rotation.reason.lowestUsage':
      'у {label} наименьшее использование в более загруженном окне (использовано {used}; следующий — {other}: {otherUsed})',
    'rotation.reason.priority':
      'у {label} такое же использование ({used}), но выше приоритет ({priority} против {otherPriority} у {other})',
    'rotation.reason.leastRecent':
      '{label} дольше всех не использовался среди {count} равных лучших ключей (использовано {used}, приоритет {priority})',
    'rotation.reason.tieNext':
      'текущий ключ {current} делит первое место с другими (всего {count}); переходим к следующему — {label} (KMI_ROTATE_ON_TIE=1)',
    'rotation.reason.tieKeep':
      'текущий ключ {current} делит первое место с другими (всего {count}); оставляем его (KMI_ROTATE_ON_TIE=0)',
    'rotation.chosen': 'выбран {label}',
    'rotation.unchanged': '{label} остаётся: он уже текущий',
    'rotation.notWrittenDryRun':
      'включён dry-run: конфигурация Kimi не записана (KMI_DRY_RUN=0, чтобы записать её)',
    'rotation.notWrittenDisabled': 'KMI_WRITE_CONFIG=0: конфигурация Kimi не записана',
    'rotation.autoNotAllowed':
      'авторотация не разрешена; установите KMI_AUTO_ROTATE_ALLOWED=1, чтобы разрешить её',
    'rotation.autoEnabled': 'авторотация включена (e2e-проверка отключена: KMI_AUTO_ROTATE_E2E=0)',
    'rotation.autoEnabledE2e': 'авторотация включена (e2e-проверка пройдена: {summary})',
    'rotation.autoEnabledE2eSkipped': 'авторотация включена (e2e-проверка пропущена)',
    'rotation.autoE2eFailed':
      'авторотация не включена: e2e-проверка не пройдена ({summary}); исправьте проблему или установите KMI_AUTO_ROTATE_E2E=0, чтобы пропустить проверку',
    'rotation.autoDisabled': 'авторотация выключена',
    'rotation.autoAlreadyOff': 'авторотация уже была выключена',
  },
});
