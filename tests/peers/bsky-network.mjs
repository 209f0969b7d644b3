// Starts the AT Protocol dev network (@atproto/dev-env TestNetwork: PLC + PDS +
// AppView + bsync + ozone) for herald's integration tests, bound to 127.0.0.1.
//
// Run by start.sh with Node 22 and cwd = the install dir holding node_modules.
// Environment:
//   DB_POSTGRES_URL, REDIS_HOST          required by dev-env (private Postgres/Redis)
//   DB_POSTGRES_SCHEMA                   fresh schema prefix per run
//   HERALD_BSKY_PLC_PORT, HERALD_BSKY_PDS_PORT, HERALD_BSKY_APPVIEW_PORT, HERALD_BSKY_OZONE_PORT
//   HERALD_BSKY_ACCOUNTS                 "handle:password,..." accounts to create (optional)
//   HERALD_BSKY_READY_FILE               where to write KEY=VALUE lines once ready
// On SIGTERM/SIGINT the network is closed and the process exits.
import fs from 'node:fs'
import net from 'node:net'

// ---- force loopback: every server that would listen on all interfaces listens on 127.0.0.1
const LOOPBACK = '127.0.0.1'
const ANY_HOST = new Set([undefined, null, '', '0.0.0.0', '::', '::0'])
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const a0 = args[0]
  if (a0 === undefined || a0 === null || typeof a0 === 'function') {
    // listen() / listen(cb): random port on all interfaces
    args = [0, LOOPBACK, ...args.filter((a) => typeof a === 'function')]
  } else if (typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) {
    if (typeof args[1] === 'string') {
      if (ANY_HOST.has(args[1])) args[1] = LOOPBACK
    } else {
      args.splice(1, 0, LOOPBACK) // listen(port[, backlog][, cb])
    }
  } else if (typeof a0 === 'object' && !a0._handle && !('fd' in a0) && a0.path === undefined) {
    if (ANY_HOST.has(a0.host)) args[0] = { ...a0, host: LOOPBACK }
  }
  return origListen.apply(this, args)
}

const log = (...m) => console.log(new Date().toISOString(), '[bsky-network]', ...m)
const env = process.env
const need = (k) => {
  if (!env[k]) {
    console.error(`[bsky-network] missing env ${k}`)
    process.exit(2)
  }
  return env[k]
}
const port = (k) => {
  const v = env[k]
  return v ? Number.parseInt(v, 10) : undefined
}

need('DB_POSTGRES_URL')
need('REDIS_HOST')
const readyFile = need('HERALD_BSKY_READY_FILE')

const t0 = Date.now()
const { TestNetwork } = await import('@atproto/dev-env')
log(`dev-env imported in ${Date.now() - t0} ms`)

// start.sh starts Postgres and Redis while this process is still importing
// (~5 s); wait until both accept connections.
const waitTcp = async (what, host, p, ms = 60_000) => {
  const until = Date.now() + ms
  for (;;) {
    const ok = await new Promise((resolve) => {
      const sock = net.connect({ host, port: p }, () => {
        sock.destroy()
        resolve(true)
      })
      sock.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`${what} at ${host}:${p} not reachable after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
const pgUrl = new URL(env.DB_POSTGRES_URL)
await waitTcp('postgres', pgUrl.hostname, Number(pgUrl.port || 5432))
const [redisHost, redisPort] = env.REDIS_HOST.split(':')
await waitTcp('redis', redisHost, Number(redisPort || 6379))
const appviewPort = port('HERALD_BSKY_APPVIEW_PORT')
const network = await TestNetwork.create({
  dbPostgresSchema: env.DB_POSTGRES_SCHEMA || `herald_${process.pid}`,
  plc: { port: port('HERALD_BSKY_PLC_PORT') },
  pds: { port: port('HERALD_BSKY_PDS_PORT'), hostname: 'localhost' },
  bsky: appviewPort
    ? { port: appviewPort, publicUrl: `http://localhost:${appviewPort}` }
    : {},
  ozone: { port: port('HERALD_BSKY_OZONE_PORT') },
})
log(`network up ${Date.now() - t0} ms after start`)

let closing = false
const shutdown = async (sig) => {
  if (closing) return
  closing = true
  log(`${sig}: closing network`)
  const timer = setTimeout(() => {
    log('close timed out after 10 s; exiting anyway')
    process.exit(1)
  }, 10_000)
  timer.unref()
  try {
    await network.close()
  } catch (err) {
    log('close failed:', err?.message ?? err)
  }
  log('closed')
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))

// ---- test accounts
const lo = (p) => `http://${LOOPBACK}:${p}`
const lines = {
  HERALD_TEST_PLC_URL: lo(network.plc.port),
  HERALD_TEST_PDS_URL: lo(network.pds.port),
  HERALD_TEST_BSKY_APPVIEW_URL: lo(network.bsky.port),
  HERALD_TEST_BSKY_OZONE_URL: lo(network.ozone.port),
  HERALD_TEST_BSKY_APPVIEW_DID: network.bsky.ctx.cfg.serverDid,
  HERALD_TEST_PDS_DID: network.pds.ctx.cfg.service.did,
  HERALD_TEST_PDS_ADMIN_PASSWORD: 'admin-pass',
}

const accounts = (env.HERALD_BSKY_ACCOUNTS || '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map((s) => {
    const i = s.indexOf(':')
    if (i < 0) throw new Error(`bad HERALD_BSKY_ACCOUNTS entry ${s} (want handle:password)`)
    return { handle: s.slice(0, i), password: s.slice(i + 1) }
  })
if (accounts.length) {
  const sc = network.getSeedClient()
  const dids = []
  for (const { handle, password } of accounts) {
    const name = handle.split('.')[0]
    const acct = await sc.createAccount(name, {
      handle,
      password,
      email: `${name}@herald.test`,
    })
    dids.push(`${handle}=${acct.did}`)
    lines[`HERALD_TEST_BSKY_DID_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = acct.did
    log(`created account ${handle} ${acct.did}`)
  }
  await network.processAll()
  lines.HERALD_TEST_BSKY_ACCOUNTS = accounts.map((a) => `${a.handle}:${a.password}`).join(',')
  lines.HERALD_TEST_BSKY_DIDS = dids.join(',')
}

const body = Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n'
fs.writeFileSync(`${readyFile}.tmp`, body)
fs.renameSync(`${readyFile}.tmp`, readyFile)
log(`ready ${Date.now() - t0} ms after start; wrote ${readyFile}`)
for (const [k, v] of Object.entries(lines)) if (k.endsWith('_URL')) log(`${k}=${v}`)
