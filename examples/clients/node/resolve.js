// Looks names up with Node's resolver pointed at dnsfault ($DNSFAULT_ADDR,
// as `dnsfault run` sets it; 127.0.0.1:1053 otherwise) and prints what each
// gave: the addresses, or Node's error code.
//
//   node examples/clients/node/resolve.js nxdomain.demo.test
'use strict';
const { Resolver } = require('node:dns').promises;

const resolver = new Resolver({ timeout: 1000, tries: 1 });
resolver.setServers([process.env.DNSFAULT_ADDR || '127.0.0.1:1053']);

if (process.argv.length < 3) {
  console.error('usage: node resolve.js NAME... (asks $DNSFAULT_ADDR, or 127.0.0.1:1053)\n  e.g. node examples/clients/node/resolve.js nxdomain.demo.test servfail.demo.test');
  process.exit(2);
}

(async () => {
  for (const name of process.argv.slice(2)) {
    try {
      const addrs = await resolver.resolve4(name);
      console.log(`${name}: ${addrs.join(',')}`);
    } catch (err) {
      // ENOTFOUND: NXDOMAIN; ENODATA: no records; ESERVFAIL; ETIMEOUT; EREFUSED.
      console.log(`${name}: ${err.code}`);
    }
  }
})();
