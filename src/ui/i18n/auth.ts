// Human-facing strings of the auth domain, in English and Russian.
import { defineMessages } from './define.js';

export const authMessages = defineMessages({
  en: {
    'auth.warn.dirNotDirectory': '{file} is not a folder; no auth keys were loaded from it',
    'auth.warn.dirUnreadable':
      'cannot list the folder {file} ({reason}); its auth files were not loaded',
    'auth.warn.unreadable': '{file}: skipped, cannot read it ({reason}); check its permissions',
    'auth.warn.notRegularFile': '{file}: skipped, not a regular file',
    'auth.warn.brokenLink': '{file}: skipped, broken symbolic link (its target does not exist)',
    'auth.warn.linkLoop': '{file}: skipped, symbolic link loop',
    'auth.warn.tooLarge':
      '{file}: skipped, too large ({size} bytes; an auth file may have at most {limit})',
    'auth.warn.binary': '{file}: skipped, not a UTF-8 text file',
    'auth.warn.invalidToml': '{file}: skipped, invalid TOML',
    'auth.warn.invalidTomlAt': '{file}: skipped, invalid TOML at line {line}, column {column}',
    'auth.warn.invalidJson': '{file}: skipped, invalid JSON',
    'auth.warn.invalidJsonAt': '{file}: skipped, invalid JSON at line {line}, column {column}',
    'auth.warn.notObject': '{file}: skipped, the top level must be a JSON object (found {found})',
    'auth.warn.noProvider': '{file}: skipped, no [providers.NAME] table with an api_key',
    'auth.warn.missingKey': '{file}: skipped, {field} is missing or empty',
    'auth.warn.nullKey': '{file}: skipped, {field} is null',
    'auth.warn.keyNotString': '{file}: skipped, {field} must be a string (found {found})',
    'auth.warn.keyBadChars':
      '{file}: skipped, {field} contains spaces, control or non-ASCII characters',
    'auth.warn.badValue': '{file}: skipped, {field} must be {expected} (got "{got}")',
    'auth.warn.badType': '{file}: skipped, {field} must be {expected} (found {found})',
    'auth.warn.badBaseUrl': '{file}: skipped, {field} must be {expected}',
    'auth.warn.envLineMalformed': '{file}:{line}: ignored a malformed line (expected KEY=value)',
    'auth.warn.envVarMalformed': '{file}:{line}: ignored {name}, its quotes are not closed',
    'auth.warn.labelClash':
      '{file}: label "{label}" is already used by {other}; this key is labelled "{renamed}"',
    'auth.warn.duplicate': '{file}: skipped, same key ({masked}) as {other}',
    'auth.expect.integer': 'a whole number, e.g. 10 or -5',
    'auth.expect.string': 'a string',
    'auth.expect.table': 'a table of providers',
    'auth.expect.label': 'text without control characters',
    'auth.type.null': 'null',
    'auth.type.array': 'an array',
    'auth.type.object': 'an object',
    'auth.type.string': 'a string',
    'auth.type.number': 'a number',
    'auth.type.boolean': 'a boolean',
    'auth.type.date': 'a date',
    'auth.type.other': 'an unsupported value',
  },
  ru: {
    'auth.warn.dirNotDirectory': '{file} — не папка; ключи из неё не загружены',
    'auth.warn.dirUnreadable':
      'не удаётся прочитать папку {file} ({reason}); её файлы ключей не загружены',
    'auth.warn.unreadable':
      '{file}: пропущен, не удаётся прочитать ({reason}); проверьте права доступа',
    'auth.warn.notRegularFile': '{file}: пропущен, это не обычный файл',
    'auth.warn.brokenLink': '{file}: пропущен, битая символическая ссылка (цель не существует)',
    'auth.warn.linkLoop': '{file}: пропущен, символические ссылки образуют цикл',
    'auth.warn.tooLarge':
      '{file}: пропущен, слишком большой ({size} байт; файл ключа может занимать не более {limit})',
    'auth.warn.binary': '{file}: пропущен, это не текстовый файл в UTF-8',
    'auth.warn.invalidToml': '{file}: пропущен, некорректный TOML',
    'auth.warn.invalidTomlAt':
      '{file}: пропущен, некорректный TOML в строке {line}, столбце {column}',
    'auth.warn.invalidJson': '{file}: пропущен, некорректный JSON',
    'auth.warn.invalidJsonAt':
      '{file}: пропущен, некорректный JSON в строке {line}, столбце {column}',
    'auth.warn.notObject':
      '{file}: пропущен, на верхнем уровне должен быть JSON-объект (найдено: {found})',
    'auth.warn.noProvider': '{file}: пропущен, нет таблицы [providers.NAME] с api_key',
    'auth.warn.missingKey': '{file}: пропущен, значение {field} отсутствует или пустое',
    'auth.warn.nullKey': '{file}: пропущен, значение {field} равно null',
    'auth.warn.keyNotString':
      '{file}: пропущен, значение {field} должно быть строкой (найдено: {found})',
    'auth.warn.keyBadChars':
      '{file}: пропущен, значение {field} содержит пробелы, управляющие или не-ASCII символы',
    'auth.warn.badValue':
      '{file}: пропущен, значение {field} должно быть {expected} (получено "{got}")',
    'auth.warn.badType':
      '{file}: пропущен, значение {field} должно быть {expected} (найдено: {found})',
    'auth.warn.badBaseUrl': '{file}: пропущен, значение {field} должно быть {expected}',
    'auth.warn.envLineMalformed':
      '{file}:{line}: пропущена некорректная строка (ожидается KEY=value)',
    'auth.warn.envVarMalformed':
      '{file}:{line}: пропущена переменная {name}, у значения не закрыты кавычки',
    'auth.warn.labelClash':
      '{file}: метка "{label}" уже занята файлом {other}; этот ключ получил метку "{renamed}"',
    'auth.warn.duplicate': '{file}: пропущен, тот же ключ ({masked}), что и в {other}',
    'auth.expect.integer': 'целым числом, например 10 или -5',
    'auth.expect.string': 'строкой',
    'auth.expect.table': 'таблицей провайдеров',
    'auth.expect.label': 'текстом без управляющих символов',
    'auth.type.null': 'null',
    'auth.type.array': 'массив',
    'auth.type.object': 'объект',
    'auth.type.string': 'строка',
    'auth.type.number': 'число',
    'auth.type.boolean': 'логическое значение',
    'auth.type.date': 'дата',
    'auth.type.other': 'неподдерживаемое значение',
  },
});
