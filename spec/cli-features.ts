// `tsrun features`: prints features.json with runc's layout (4-space indent, trailing newline).
import { features } from './features.js';

export function featuresCommand(): void {
  process.stdout.write(`${JSON.stringify(features(), null, 4)}\n`);
}
