import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  crossSiteRefusal,
  isUnsafeMethod,
  type RequestOriginHeaders,
} from '../src/admin/auth/csrf';

test('CSRF: Sec-Fetch-Site first, then Origin against Host (tailscale csrfProtect)', () => {
  const host = 'gateway.example:8433';
  const cases: [RequestOriginHeaders, boolean][] = [
    // No browser headers at all: curl, scripts.
    [{ host }, true],
    // Fetch metadata decides when present, whatever Origin says.
    [{ host, secFetchSite: 'same-origin' }, true],
    [{ host, secFetchSite: 'none' }, true],
    [{ host, secFetchSite: 'same-site' }, false],
    [{ host, secFetchSite: 'cross-site' }, false],
    [{ host, secFetchSite: 'same-origin', origin: 'https://evil.example' }, true],
    [{ host, secFetchSite: 'cross-site', origin: `https://${host}` }, false],
    // Older browsers: Origin against Host.
    [{ host, origin: `https://${host}` }, true],
    [{ host, origin: `http://${host}` }, true],
    [{ host, origin: 'https://GATEWAY.example:8433' }, true],
    [{ host, origin: 'https://gateway.example' }, false],
    [{ host, origin: 'https://gateway.example:8433.evil.example' }, false],
    [{ host, origin: 'https://evil.example' }, false],
    [{ host, origin: 'null' }, false],
    [{ host, origin: 'file:///etc/passwd' }, false],
    [{ origin: 'https://evil.example' }, false],
  ];
  for (const [headers, allowed] of cases) {
    assert.equal(crossSiteRefusal(headers) === null, allowed, JSON.stringify(headers));
  }
});

test('CSRF applies to unsafe methods only', () => {
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'get'])
    assert.equal(isUnsafeMethod(method), false);
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'post', undefined]) {
    assert.equal(isUnsafeMethod(method), true);
  }
});
