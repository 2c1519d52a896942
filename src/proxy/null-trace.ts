// A trace sink that keeps nothing: the default when the caller passes none.
import type { TraceSink } from '../trace/record.js';

export const nullTraceSink: TraceSink = {
  record: () => {},
  recent: () => [],
  subscribe: () => () => {},
  flush: async () => {},
  close: async () => {},
};
