// Human-facing strings of `kmi rotate`, in English and Russian.
import { defineMessages } from './define.js';

export const rotateCmdMessages = defineMessages({
  en: {
    'rotateCmd.badMode':
      "unknown rotate mode '{mode}': use kmi rotate, kmi rotate auto or kmi rotate off",
    'rotateCmd.noEligible': 'no eligible key, nothing changed: {reason}',
  },
  ru: {
    'rotateCmd.badMode':
      "неизвестный режим ротации '{mode}': используйте kmi rotate, kmi rotate auto или kmi rotate off",
    'rotateCmd.noEligible': 'нет подходящего ключа, ничего не изменено: {reason}',
  },
});
