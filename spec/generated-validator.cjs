// Loads the validator that spec/compile-schemas.mjs generated, on first use only: commands that
// never read a config.json (state, kill, delete, ...) do not pay for evaluating ~160 KB of code.
// A .cjs file so that `require` is bundled by esbuild and also works under tsx.
'use strict';
let validate;
module.exports = function generatedValidator() {
  if (!validate) {
    try {
      validate = require('./generated/validate-config.cjs');
    } catch (err) {
      if (err && err.code === 'MODULE_NOT_FOUND') {
        throw new Error('spec/generated/validate-config.cjs is missing: run `npm run build` (or `node spec/compile-schemas.mjs`)');
      }
      throw err;
    }
  }
  return validate;
};
