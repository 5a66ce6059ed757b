import { relative } from 'node:path';
import { expect } from 'vitest';
import { workerTitle } from './stall-reporter.js';

// Each worker names the file it runs in its process title, so that the stall reporter can
// stop the one worker whose file has stalled and let the rest of the run go on.
process.title = workerTitle(relative(process.cwd(), expect.getState().testPath ?? 'unknown'));
