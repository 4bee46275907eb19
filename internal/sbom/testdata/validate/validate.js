// Validates CycloneDX JSON documents with the strict JSON validator of
// @cyclonedx/cyclonedx-library (the schema with additionalProperties
// forbidden, SPDX licence IDs and formats checked).
// Usage: node validate.js SPEC_VERSION FILE...
// Exits 0 when every file is valid; prints the errors and exits 1 otherwise.
'use strict'
const fs = require('fs')
const CDX = require('@cyclonedx/cyclonedx-library')

async function main () {
  const [version, ...files] = process.argv.slice(2)
  if (!version || files.length === 0) {
    console.error('usage: node validate.js SPEC_VERSION FILE...')
    process.exit(2)
  }
  const validator = new CDX.Validation.JsonStrictValidator(version)
  let failed = false
  for (const f of files) {
    const errors = await validator.validate(fs.readFileSync(f, 'utf8'))
    if (errors === null) {
      console.log(`${f}: valid CycloneDX ${version}`)
    } else {
      failed = true
      console.log(`${f}: INVALID CycloneDX ${version}:\n${JSON.stringify(errors, null, 2)}`)
    }
  }
  process.exit(failed ? 1 : 0)
}

main().catch(e => { console.error(e); process.exit(2) })
