// Mocha's spec output plus a counts file, so scripts/test.sh can print one closing line
// ("tests: N passed, N failed, N skipped") over all its mocha runs.
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

class CountingSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const file = process.env.TESSERA_TEST_COUNTS;
      if (!file) return;
      const { passes, failures, pending } = this.stats;
      fs.appendFileSync(file, `${passes} ${failures} ${pending}\n`);
    });
  }
}
module.exports = CountingSpec;
