/**
 * The public URL of `serve` (what the portal reaches it at: `--public-url`, else `B24FLOW_PUBLIC_URL`) and the
 * application URLs derived from it for the portal's local-application form.
 */
import { InvalidInputError } from '../lib/failures.js';
import { APP_PATH, INSTALL_PATH } from '../triggers/installPage.js';

/**
 * The public URL without a trailing slash; undefined when not set.
 * @throws InvalidInputError when it is not an http(s) URL
 */
export function publicUrlOf(v: string | undefined): string | undefined {
  if (!v?.trim()) return undefined;
  let u: URL;
  try {
    u = new URL(v.trim());
  } catch {
    throw new InvalidInputError(`the public URL must be an http(s) URL, got "${v}"`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new InvalidInputError(`the public URL must be an http(s) URL, got "${v}"`);
  return u.toString().replace(/\/+$/, '');
}

/** The URLs of the application under a public URL. */
export interface AppUrls {
  /** "Your handler path" of the form: what the portal opens when a user opens the application. */
  handler: string;
  /** "Initial installation path": the install callback / install page (`POST`). */
  install: string;
  /** The online event endpoint (ONOFFLINEEVENT and online events are bound there). */
  events: string;
}

/** The application's URLs under `publicUrl` (as {@link publicUrlOf} returns it). */
export function appUrls(publicUrl: string): AppUrls {
  return { handler: publicUrl + APP_PATH, install: publicUrl + INSTALL_PATH, events: `${publicUrl}/bitrix/events` };
}
