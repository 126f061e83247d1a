// The suite's own calls to the platform, for setting up what a test is not
// about (accounts, a second session, a greeting made elsewhere). They go
// through the edge like the browser's, each from a fresh random 127/8
// address: the edge and auth throttle sign-ups and logins per client
// address, and the browser's own budget (127.0.0.1) is kept for the forms
// under test.

import http from "node:http";

/** What playwright's BrowserContext.addCookies takes. */
export interface BrowserCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: "Strict";
  expires: number;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A random 127/8 address other than 127.0.0.1: another client, as the edge sees it. */
export function randomLoopback(): string {
  const octet = (min: number) => min + Math.floor(Math.random() * 250);
  return `127.${octet(1)}.${octet(0)}.${octet(2)}`;
}

export class Api {
  private readonly url: URL;

  /** `webUrl`: the edge (or, through `direct`, a service's own port). */
  constructor(webUrl: string) {
    this.url = new URL(webUrl);
  }

  /** The same calls, straight to a service at `baseUrl` (its own port), not through the edge. */
  direct(baseUrl: string): Api {
    return new Api(baseUrl);
  }

  /** The page's origin, which auth checks on cookie-mode requests. */
  get origin(): string {
    return this.url.origin;
  }

  request(method: string, path: string, options: { json?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
    const body = options.json === undefined ? undefined : JSON.stringify(options.json);
    // "localhost" may resolve to ::1, which a 127/8 source cannot reach.
    const host = this.url.hostname === "localhost" ? "127.0.0.1" : this.url.hostname;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host,
          port: this.url.port || 80,
          method,
          path,
          localAddress: randomLoopback(),
          timeout: 20_000,
          headers: {
            host: this.url.host,
            ...(body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) }),
            ...options.headers,
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within 20 s`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** A new account: its user id. */
  async signup(email: string, password: string): Promise<string> {
    const reply = await this.request("POST", "/auth/signup", { json: { email, password } });
    if (reply.status !== 201) throw new Error(`sign-up of ${email}: ${reply.status} ${reply.body}`);
    return JSON.parse(reply.body).user.id;
  }

  /** A JSON-mode login: the access token, for calls the suite makes itself. */
  async accessToken(email: string, password: string): Promise<string> {
    const reply = await this.request("POST", "/auth/login", { json: { email, password } });
    if (reply.status !== 200) throw new Error(`login of ${email}: ${reply.status} ${reply.body}`);
    return JSON.parse(reply.body).access_token;
  }

  /** A cookie-mode login as the site makes it: the Set-Cookie lines that hold the refresh token. */
  async cookieLogin(email: string, password: string): Promise<string[]> {
    const reply = await this.request("POST", "/auth/login", {
      json: { email, password },
      headers: { "session-mode": "cookie", origin: this.origin },
    });
    if (reply.status !== 200) throw new Error(`cookie-mode login of ${email}: ${reply.status} ${reply.body}`);
    if ("refresh_token" in JSON.parse(reply.body)) throw new Error("cookie-mode login answered a refresh_token in the body");
    return reply.headers["set-cookie"] ?? [];
  }

  /** lang's greeting template for `language`, or null when it has none. */
  async translation(token: string, language: string): Promise<string | null> {
    const reply = await this.request("GET", `/lang/v1/translations/${language}/greeting`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (reply.status === 404) return null;
    if (reply.status !== 200) throw new Error(`GET translation ${language}: ${reply.status} ${reply.body}`);
    return JSON.parse(reply.body).template;
  }

  /** PUT (or, for null, DELETE) lang's template for `language`: the status lang or the edge answered. */
  async setTranslation(token: string, language: string, template: string | null): Promise<number> {
    const path = `/lang/v1/translations/${language}/greeting`;
    const headers = { authorization: `Bearer ${token}` };
    const reply =
      template === null
        ? await this.request("DELETE", path, { headers })
        : await this.request("PUT", path, { json: { template }, headers });
    return reply.status;
  }

  /** A localized greeting through gateway (Connect JSON): traffic the dashboard then shows. */
  async localizedGreeting(token: string, name: string, language: string): Promise<string> {
    const reply = await this.request("POST", "/gateway.v1.GatewayService/LocalizedGreeting", {
      json: { name, language },
      headers: { authorization: `Bearer ${token}` },
    });
    if (reply.status !== 200) throw new Error(`LocalizedGreeting ${language}: ${reply.status} ${reply.body}`);
    return JSON.parse(reply.body).greeting;
  }

  /**
   * A cookie-mode login's cookies as a browser context takes them: what
   * the site's own login leaves behind, made without the browser's login
   * budget.
   */
  async sessionCookies(email: string, password: string): Promise<BrowserCookie[]> {
    const cookies = (await this.cookieLogin(email, password)).map((line) => {
      const [pair, ...attributes] = line.split(";").map((s) => s.trim());
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      const attr = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(key.toLowerCase()));
      const maxAge = Number(attr("Max-Age=")?.split("=")[1] ?? 3600);
      return {
        name,
        value,
        domain: this.url.hostname,
        path: attr("Path=")?.split("=")[1] ?? "/",
        httpOnly: Boolean(attr("HttpOnly")),
        secure: Boolean(attr("Secure")),
        sameSite: "Strict" as const,
        expires: Math.floor(Date.now() / 1000) + maxAge,
      };
    });
    if (!cookies.some((c) => c.name === "refresh_token" && c.value)) throw new Error("cookie-mode login set no refresh_token cookie");
    return cookies;
  }

  async failedLogin(email: string): Promise<number> {
    return (await this.request("POST", "/auth/login", { json: { email, password: "not the password at all" } })).status;
  }

  async greet(token: string, name: string): Promise<string> {
    const reply = await this.request("POST", "/greeter.v1.GreeterService/Greet", {
      json: { name },
      headers: { authorization: `Bearer ${token}` },
    });
    if (reply.status !== 200) throw new Error(`Greet ${name}: ${reply.status} ${reply.body}`);
    return JSON.parse(reply.body).greetingId;
  }
}
