# NixOS VM test `platform` (checks.<system>.vm-platform): the whole platform
# on one NixOS machine, exercised through the edge the way a client would.
#
# PostgreSQL, the services from the flake's NixOS modules and Traefik from
# the committed edge files (./vm-common.nix); each role owning its database
# and no other; then, through Traefik:
# sign-up and login, greeter with and without a token, greeter checking a
# local HTTP target through caller (greeter's service token at caller, and
# caller refusing cloud metadata), lang's public, user and admin routes
# (anonymous 401, a user 403, an admin made with `auth admin create` 200),
# gateway's localized greeting, overview and admin-only metrics, a CORS
# preflight, the credential endpoints' rate limit answering 429, every
# internal path answering 404 (caller, /auth/stats, /auth/token,
# /lang/v1/stats) while on loopback those routes admit only the client they
# name, and the services riding out a PostgreSQL outage. Events: the
# sign-up's user.registered leaves auth's outbox for its JetStream stream
# and raises gateway's user count (its projection, not auth), and a sign-up
# while NATS is stopped waits in the outbox and is relayed once it is back.
#
# Sources read for every option and driver call: see ./vm-common.nix, and
# services/auth/src/service.rs (signup: 201 {user, tokens}; login: 200, the
# token pair top-level), services/lang/src/service.rs (PUT of a template:
# {"template"}, 200 when replaced; the seeded English greeting
# "Hello, {name}!"), proto/{greeter,gateway,caller}/v1/*.proto (Connect JSON
# field names), deploy/edge/edge.toml (routers and their access levels, CORS
# origins, rate-limit-credentials: average 5 per minute, burst 10) and
# /tmp/contract/issue11.md (the access table: 401 without a token, 403 with
# one that does not grant the route), and the README's Events section (gateway's
# Overview reads userCount from its projection, eventually consistent).
{ common }:
let
  # auth publishes user.registered: the event steps run when it uses events.
  events = common.usesEvents "auth";
in
{
  name = "platform";

  nodes.machine = common.node;

  testScript =
    common.prelude
    + ''
      EMAIL = "ada@example.com"
      PASSWORD = "plum ocean 47 lantern"
      ADMIN_EMAIL = "admin@vm.test"
      ADMIN_PASSWORD = "quartz harbour 83 violin"
      ORIGIN = "http://localhost:5173"
      GREETING = f"{EDGE}/lang/v1/translations/en/greeting"

      start_all()
      wait_for_platform()

      with subtest("each service's role owns its database and may connect to no other"):
          names = ", ".join(f"'{name}'" for name in DATABASES)
          dbs = ", ".join(f"'{db}'" for db in DATABASES.values())
          query = (
              "SELECT r.rolname, d.datname, pg_get_userbyid(d.datdba), has_database_privilege(r.rolname, d.datname, 'CONNECT')"
              f" FROM pg_roles r CROSS JOIN pg_database d WHERE r.rolname IN ({names}) AND d.datname IN ({dbs})"
          )
          rows = machine.succeed(f"runuser -u postgres -- psql -tA -F ' ' -c {shlex.quote(query)}").split()
          assert len(rows) == 4 * len(DATABASES) ** 2, rows
          for role, db, owner, connect in zip(rows[0::4], rows[1::4], rows[2::4], rows[3::4]):
              own = DATABASES[role] == db
              assert connect == ("t" if own else "f"), f"{role} on {db}: CONNECT {connect}"
              assert not own or owner == role, f"{db} is owned by {owner}"

      with subtest("internal paths are not routed: caller, auth's statistics and token endpoint, lang's statistics"):
          rpc("caller.v1.CallerService/Call", {"url": "https://example.com/"}).expect(404)
          request("GET", f"{EDGE}/auth/stats").expect(404)
          request("POST", f"{EDGE}/auth/token", form="grant_type=client_credentials",
                  headers={"Content-Type": "application/x-www-form-urlencoded"}).expect(404)
          request("GET", f"{EDGE}/lang/v1/stats").expect(404)

      with subtest("sign up and log in through the edge"):
          token = signup(EMAIL, PASSWORD)
          token = login(EMAIL, PASSWORD)
          me = request("GET", f"{EDGE}/auth/me", token=token).expect(200).json()
          assert me["email"] == EMAIL, me
          request("POST", f"{EDGE}/auth/login", {"email": EMAIL, "password": "not the password"}).expect(401)
    ''
    + (
      if events then
        "\n"
        + ''
          with subtest("events: the sign-up's user.registered leaves auth's outbox for its JetStream stream"):
              eventually("auth relays user.registered", lambda: metric("outbox_published_total", "auth") >= 1)
              eventually("auth's outbox is empty", lambda: metric("outbox_pending", "auth") == 0)
              streams = machine.succeed("curl --fail --silent " + shlex.quote(f"{NATS_MONITOR}/jsz?accounts=true&streams=true"))
              assert '"platform-auth"' in streams, streams
        ''
      else
        ""
    )
    + "\n"
    + ''

      with subtest("greeter answers only with a valid token (forward-auth to auth)"):
          rpc("greeter.v1.GreeterService/Greet", {"name": "Ada"}).expect(401)
          rpc("greeter.v1.GreeterService/Greet", {"name": "Ada"}, token="not-a-jwt").expect(401)
          greeting = rpc("greeter.v1.GreeterService/Greet", {"name": "Ada", "url": f"{HTTP_TARGET}/hello.txt"}, token).expect(200).json()
          assert greeting["greeting"] == "Hello, Ada!", greeting

      with subtest("greeter checks a local HTTP target through caller"):
          assert greeting["externalStatus"] == 200, greeting
          assert greeting.get("externalError", "") == "", greeting
          machine.succeed("journalctl --unit=http-target.service --no-pager | grep -F 'GET /hello.txt'")
          missing = rpc("greeter.v1.GreeterService/Greet", {"name": "Ada", "url": f"{HTTP_TARGET}/missing"}, token).expect(200).json()
          assert missing["externalStatus"] == 404, missing
          # caller refuses cloud metadata whatever it is allowed; the greeting still succeeds
          refused = rpc("greeter.v1.GreeterService/Greet", {"name": "Ada", "url": "http://169.254.169.254/latest/meta-data/"}, token).expect(200).json()
          assert refused.get("externalStatus", 0) == 0 and refused["externalError"], refused

      with subtest("lang through the edge: greetings are public, templates need a token, writes the admin role"):
          localized = request("GET", f"{EDGE}/lang/v1/greeting?name=Ada&language=fr").expect(200).json()
          assert "Ada" in localized["greeting"], localized
          request("GET", f"{EDGE}/lang/v1/languages").expect(200)
          request("GET", f"{EDGE}/lang/v1/translations/fr/greeting").expect(401)
          request("GET", f"{EDGE}/lang/v1/translations/fr/greeting", token=token).expect(200)
          # a write: anonymous 401 and a user's 403 at the edge (forward-auth-admin)
          request("PUT", GREETING, {"template": "Hi, {name}!"}).expect(401)
          request("PUT", GREETING, {"template": "Hi, {name}!"}, token=token).expect(403)
          request("GET", f"{EDGE}/auth/admin/users?email={EMAIL}", token=token).expect(403)

      with subtest("an admin made with `auth admin create` writes translations through the edge"):
          auth_admin("admin", "create", "--email", ADMIN_EMAIL, password=ADMIN_PASSWORD)
          admin = login(ADMIN_EMAIL, ADMIN_PASSWORD)
          request("GET", f"{EDGE}/auth/admin/users?email={EMAIL}", token=admin).expect(200)
          request("PUT", GREETING, {"template": "Good day, {name}!"}, token=admin).expect(200)
          changed = request("GET", f"{EDGE}/lang/v1/greeting?name=Ada&language=en").expect(200).json()
          assert changed["greeting"] == "Good day, Ada!", changed
          # the seeded template back, for the steps below
          request("PUT", GREETING, {"template": "Hello, {name}!"}, token=admin).expect(200)
    ''
    + (
      if common.has "gateway" then
        "\n"
        + ''
          with subtest("gateway: localized greeting (token required), overview, metrics (admin only)"):
              rpc("gateway.v1.GatewayService/LocalizedGreeting", {"name": "Ada", "language": "fr"}).expect(401)
              answer = rpc("gateway.v1.GatewayService/LocalizedGreeting", {"name": "Ada", "language": "fr"}, token).expect(200).json()
              assert answer["language"] == "fr" and "Ada" in answer["greeting"], answer
              anonymous = rpc("gateway.v1.GatewayService/Overview", {}).expect(200).json()
              assert anonymous.get("languages"), anonymous
              assert "userCount" not in anonymous, anonymous
              # the user count comes from gateway's projection of auth's user.registered events
              eventually(
                  "gateway's Overview counts the user",
                  lambda: int(rpc("gateway.v1.GatewayService/Overview", {}, token).expect(200).json().get("userCount", "0")) >= 1,
              )
              rpc("gateway.v1.GatewayService/Metrics", {}).expect(401)
              rpc("gateway.v1.GatewayService/Metrics", {}, token).expect(403)
              rpc("gateway.v1.GatewayService/Metrics", {}, admin).expect(200)

          with subtest("on loopback, the service routes admit only the client they name (gateway)"):
              stats = service_token("gateway")
              for url in (f"http://127.0.0.1:{PORTS['auth']}/auth/stats", f"http://127.0.0.1:{PORTS['lang']}/lang/v1/stats"):
                  request("GET", url).expect(401)
                  request("GET", url, token=token).expect(403)
                  request("GET", url, token=service_token("greeter")).expect(403)
                  request("GET", url, token=stats).expect(200)
        ''
      else
        ""
    )
    + (
      if events then
        "\n"
        + ''
          with subtest("the services ride out a broker outage: a sign-up's event waits in auth's outbox"):
              eventually("auth's outbox is empty", lambda: metric("outbox_pending", "auth") == 0)
              published = metric("outbox_published_total", "auth")
              pids = {name: main_pid(f"platform-{name}.service") for name in PORTS}
              machine.succeed("systemctl stop nats.service")
              # on auth's own port: the edge's rate limit is the subtest below's
              request("POST", f"http://127.0.0.1:{PORTS['auth']}/auth/signup", {"email": "grace@example.com", "password": PASSWORD}).expect(201)
              time.sleep(3)
              assert metric("outbox_published_total", "auth") == published, "published without a broker"
              machine.succeed("systemctl start nats.service")
              machine.wait_for_open_port(NATS_PORT, "127.0.0.1")
              eventually("auth relays the waiting event", lambda: metric("outbox_published_total", "auth") > published)
              eventually("auth's outbox is empty", lambda: metric("outbox_pending", "auth") == 0)
              # the same processes: their units want NATS, they do not require it
              assert pids == {name: main_pid(f"platform-{name}.service") for name in PORTS}, pids
        ''
      else
        ""
    )
    + "\n"
    + ''
      with subtest("CORS preflight from the front end's origin, and not from others"):
          preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,authorization"}
          allowed = request("OPTIONS", f"{EDGE}/greeter.v1.GreeterService/Greet", headers=preflight)
          assert allowed.status in (200, 204), allowed.status
          assert allowed.headers.get("access-control-allow-origin") == ORIGIN, allowed.headers
          assert "POST" in allowed.headers.get("access-control-allow-methods", ""), allowed.headers
          other = request("OPTIONS", f"{EDGE}/greeter.v1.GreeterService/Greet", headers=dict(preflight, Origin="http://evil.example"))
          assert "access-control-allow-origin" not in other.headers, other.headers

      with subtest("the edge rate-limits logins (5 per minute, burst 10) with 429"):
          statuses: list[int] = []
          last = Response(0, {}, "")
          while len(statuses) < 40 and last.status != 429:
              last = request("POST", f"{EDGE}/auth/login", {"email": EMAIL, "password": PASSWORD})
              statuses.append(last.status)
          assert last.status == 429, f"no 429 after {len(statuses)} logins: {statuses}"
          assert set(statuses[:-1]) == {200}, statuses
          # Traefik's answer, not auth's own throttle (which answers JSON errors)
          assert '"error"' not in last.body, last.body

      with subtest("the services ride out a PostgreSQL outage"):
          machine.succeed("systemctl stop postgresql.service")
          for name, port in PORTS.items():
              machine.wait_until_fails(f"curl --fail --silent --max-time 10 http://127.0.0.1:{port}/readyz")
          rpc("greeter.v1.GreeterService/Greet", {"name": "Ada", "url": f"{HTTP_TARGET}/hello.txt"}, token).expect(503)
          pids = {name: main_pid(f"platform-{name}.service") for name in PORTS}
          machine.succeed("systemctl start postgresql.service")
          machine.wait_for_unit("postgresql-setup.service")
          for name in PORTS:
              wait_ready(name)
          # the same processes: they reconnected rather than being restarted
          assert pids == {name: main_pid(f"platform-{name}.service") for name in PORTS}, pids
          after = rpc("greeter.v1.GreeterService/Greet", {"name": "Ada", "url": f"{HTTP_TARGET}/hello.txt"}, token).expect(200).json()
          assert int(after["greetingId"]) > int(greeting["greetingId"]), after
    '';
}
