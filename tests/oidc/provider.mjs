// A real OpenID Connect provider for Clearinghouse's tests: panva's certified
// oidc-provider (npm, pinned in package-lock.json), never part of the product.
//
//   node tests/oidc/provider.mjs '<config JSON>'      (or the JSON in OIDC_PROVIDER_CONFIG)
//
// It listens on 127.0.0.1:<port> with the issuer http://127.0.0.1:<port>, prints one line
// `READY <issuer>` on stdout once it accepts connections, logs errors to stderr, and exits
// with 0 on SIGTERM or SIGINT. tests/oidc_provider.py starts it and drives it.
//
// The configuration (one JSON object; snake_case, as the Python side writes it):
//
//   port         the TCP port on 127.0.0.1
//   role_claim   optional: the name of a claim carrying each account's `roles`
//   accounts     [{sub, name, email, groups: [..], roles: [..]}]: the only accounts that exist
//   clients      [{client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//                  token_endpoint_auth_method, grant_types, id_token_signed_response_alg,
//                  access_token_ttl, access_token_backdate, token_claims}]
//   resources    [{audience, scope, alg, access_token_ttl}]: the resource servers (APIs)
//
// What it configures, and why:
//
// * Accounts: `findAccount` knows only the configured accounts (any other id fails the
//   sign-in). The scopes release claims as a relying party expects: `openid` -> sub,
//   `profile` -> name, `email` -> email and email_verified, `groups` -> groups and the
//   role claim. `conformIdTokenClaims: false` puts those claims into the ID token of the
//   code flow as well (by default oidc-provider releases them only at userinfo), so a
//   relying party can sign a user in from the ID token alone.
// * Clients: web clients (`application_type: 'web'`) authenticating with their secret
//   (client_secret_basic by default, or client_secret_post); grant types
//   authorization_code, refresh_token and client_credentials. PKCE with S256 is required
//   of every authorization request (`pkce.required`; oidc-provider 9 knows only S256).
//   A refresh token is issued to every client allowed the refresh_token grant, without
//   the `offline_access` scope. `access_token_ttl` overrides a client's access token
//   lifetime; `access_token_backdate` (seconds) makes the provider stamp the client's JWT
//   access tokens that much earlier (iat and exp, through the `formats.customizers.jwt`
//   hook), so that the provider itself signs tokens that are already expired, for
//   negative tests. `token_claims` are added to a client's client_credentials tokens
//   (e.g. the groups of a machine client).
// * Resource indicators (RFC 8707): an access token requested for a configured resource
//   is an RFC 9068 JWT (`typ: at+jwt`) with `aud` = the resource's audience, signed with
//   the resource's `alg` (RS256 by default, EdDSA or Ed25519), carrying the account's `groups`
//   and role claim (`extraTokenClaims`). An unknown resource is refused (invalid_target).
//   `useGrantedResource` lets the code exchange reuse the resource of the authorization
//   request when the token request names none.
// * Features: devInteractions (the built-in login and consent pages: log in with an
//   account's `sub`, any password; an unknown login is refused on the form with a 400,
//   where oidc-provider itself would fail with a 500), clientCredentials,
//   resourceIndicators, revocation, rpInitiatedLogout (end_session_endpoint), userinfo.
//   State is in memory (the development adapter): each start is a fresh provider.
// * oidc-provider 9 prints warnings on stderr at start: the in-memory adapter, the
//   devInteractions, and "Unsupported runtime" on Node.js 20 (it asks for 22 LTS or
//   later); it runs on 20 all the same.
// * Keys: a fresh RS256 (RSA 2048) and Ed25519 signing key made at each start with
//   node:crypto, given as `jwks`; a fresh secret signs the cookies. The Ed25519 key names
//   no `alg`, so that it signs as `EdDSA` (RFC 8037) or as `Ed25519` (RFC 9864's fully
//   specified name, which joserfc prefers: it warns on `EdDSA`), whichever a client's
//   `id_token_signed_response_alg` or a resource's `alg` asks for.
//
// Plain http on loopback: oidc-provider accepts http redirect URIs for web clients using
// the code flow (it insists on https only for the implicit flow), and marks its cookies
// Secure only when the request itself is secure (ctx.secure), so nothing has to be
// relaxed for http://127.0.0.1. Two things are set because the relying party (the node)
// shares the host 127.0.0.1 with the provider and cookies are not isolated by port:
// the provider's cookies get names of their own (`op_session`, `op_interaction`,
// `op_interaction_resume`), so that they never clash with a node's cookies in the same
// cookie jar or browser. And every answer carries a Content-Security-Policy that allows
// inline styles only: the built-in pages @import a web font from the Internet, which a
// browser under test must not fetch.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import process from 'node:process';

import Provider, { errors } from 'oidc-provider';

/** Our own client fields, kept here and never given to oidc-provider as client metadata. */
const OWN_CLIENT_FIELDS = ['access_token_ttl', 'access_token_backdate', 'token_claims'];
const DEFAULT_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'];

function readConfig() {
  const text = process.argv[2] ?? process.env.OIDC_PROVIDER_CONFIG;
  if (!text) {
    throw new Error('usage: node provider.mjs CONFIG_JSON (or set OIDC_PROVIDER_CONFIG)');
  }
  const config = JSON.parse(text);
  if (!Number.isInteger(config.port) || config.port <= 0) {
    throw new Error('config: port must be a positive integer');
  }
  return config;
}

/** A public signing JWK's RFC 7638 thumbprint, as its `kid`. */
function thumbprint(jwk) {
  const members = jwk.kty === 'RSA' ? ['e', 'kty', 'n'] : ['crv', 'kty', 'x'];
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

/** A fresh private signing key set: one RS256 key and one Ed25519 key. */
function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return {
    keys: [
      { ...rsa, alg: 'RS256', use: 'sig', kid: thumbprint(rsa) },
      { ...ed, use: 'sig', kid: thumbprint(ed) }, // no alg: EdDSA or Ed25519 (RFC 9864)
    ],
  };
}

/** The resource configured for `indicator` (compared exactly, then as a parsed URL). */
function findResource(resources, indicator) {
  const href = (value) => URL.parse(value)?.href;
  return resources.find((r) => r.audience === indicator)
    ?? resources.find((r) => href(r.audience) === href(indicator));
}

function buildProvider(config) {
  const issuer = `http://127.0.0.1:${config.port}`;
  const roleClaim = config.role_claim || undefined;
  const accounts = new Map((config.accounts ?? []).map((a) => [a.sub, a]));
  const resources = config.resources ?? [];
  const own = new Map();
  const clients = (config.clients ?? []).map((client) => {
    const metadata = { ...client };
    own.set(client.client_id, Object.fromEntries(OWN_CLIENT_FIELDS.map((f) => [f, client[f]])));
    for (const field of OWN_CLIENT_FIELDS) delete metadata[field];
    const grantTypes = metadata.grant_types ?? DEFAULT_GRANT_TYPES;
    return {
      application_type: 'web',
      grant_types: grantTypes,
      response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
      token_endpoint_auth_method: 'client_secret_basic',
      ...metadata,
    };
  });

  /** The claims of an account, the role claim under its configured name. */
  const claimsOf = (account) => {
    const { roles = [], ...rest } = account;
    return { email_verified: true, groups: [], ...rest, ...(roleClaim ? { [roleClaim]: roles } : {}) };
  };

  const ttlOf = (fallback) => (ctx, token, client) => (
    own.get(client?.clientId)?.access_token_ttl ?? token.resourceServer?.accessTokenTTL ?? fallback
  );

  const provider = new Provider(issuer, {
    clients,
    jwks: signingKeys(),
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
    },
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email', 'email_verified'],
      groups: ['groups', ...(roleClaim ? [roleClaim] : [])],
    },
    conformIdTokenClaims: false,
    async findAccount(ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => claimsOf(account) };
    },
    async extraTokenClaims(ctx, token) {
      if (token.accountId) {
        const account = accounts.get(token.accountId);
        if (!account) return undefined;
        const claims = claimsOf(account);
        return { groups: claims.groups, ...(roleClaim ? { [roleClaim]: claims[roleClaim] } : {}) };
      }
      return own.get(token.clientId)?.token_claims ?? undefined;
    },
    formats: {
      customizers: {
        async jwt(ctx, token, jwt) {
          const backdate = own.get(token.clientId)?.access_token_backdate ?? 0;
          if (backdate > 0) {
            jwt.payload.iat -= backdate;
            jwt.payload.exp -= backdate;
          }
        },
      },
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: ttlOf(600),
      ClientCredentials: ttlOf(600),
      AuthorizationCode: 60,
      IdToken: 600,
      RefreshToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, indicator) {
          const resource = findResource(resources, indicator);
          if (!resource) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return {
            audience: resource.audience,
            scope: resource.scope ?? 'api',
            accessTokenFormat: 'jwt',
            accessTokenTTL: resource.access_token_ttl ?? 600,
            jwt: { sign: { alg: resource.alg ?? 'RS256' } },
          };
        },
      },
    },
  });

  provider.use(async (ctx, next) => {
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'");
    await next();
  });

  // devInteractions log in whatever id is typed, and oidc-provider then fails (500) on an
  // id that findAccount does not know; refuse it on the login form instead, as an
  // identity provider does. The body read here is handed on as ctx.request.body.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path)) {
      const chunks = [];
      for await (const chunk of ctx.req) chunks.push(chunk);
      const body = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
      if (body.prompt === 'login' && !accounts.has(body.login)) {
        ctx.status = 400;
        ctx.type = 'html';
        ctx.body = '<!DOCTYPE html><title>Sign-in</title><p>unknown account or wrong password</p>';
        return;
      }
      ctx.request.body = body;
    }
    await next();
  });

  provider.on('server_error', (ctx, error) => {
    console.error(`oidc-provider: server error on ${ctx.method} ${ctx.path}:`, error);
  });
  for (const event of ['authorization.error', 'grant.error', 'end_session.error', 'revocation.error',
    'userinfo.error', 'introspection.error']) {
    provider.on(event, (ctx, error) => {
      const detail = error.error_description ? `: ${error.error_description}` : '';
      console.error(`oidc-provider: ${event} ${error.error ?? error.name}${detail}`);
    });
  }
  return { provider, issuer };
}

function main() {
  const config = readConfig();
  const { provider, issuer } = buildProvider(config);
  const server = provider.listen(config.port, '127.0.0.1', () => {
    process.stdout.write(`READY ${issuer}\n`);
  });
  server.on('error', (error) => {
    console.error(`oidc-provider: cannot listen on 127.0.0.1:${config.port}: ${error.message}`);
    process.exit(1);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

try {
  main();
} catch (error) {
  console.error(`oidc-provider: ${error.stack ?? error}`);
  process.exit(1);
}
