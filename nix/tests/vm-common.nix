# What the NixOS VM tests share: one node running the whole platform the way
# a NixOS host would, and Python helpers for their test scripts.
#
# The node: PostgreSQL (one database and one role per service, peer
# authentication over the Unix socket, all from nix/module.nix), every
# service from the flake's NixOS modules with their hardened units, Traefik
# on the edge's port configured from the committed edge files (nix/edge.nix),
# auth's signing key and the services' client identities (each client's
# secret, auth's file of their SHA-256) generated inside the VM at first
# boot, auth trusting the proxies edge.toml names for `local`, NATS with
# JetStream for the services that use events (nix/module.nix enables it; its
# monitoring endpoint on loopback for the scripts), and a local HTTP server
# for greeter to check through caller.
#
# Written against these sources, every option and driver call checked in
# them (nothing here was built or run; the nixos-26.05 revision itself is too
# large to fetch, so NixOS files were read one by one, at the revisions the
# code index holds):
#   nixos/modules/services/web-servers/traefik.nix: the 26.05 rewrite
#     (static.settings, static.file, dynamic.file/dir/files, dynamic.settings
#     "removed in 26.11", renames from staticConfigOptions/dynamicConfigFile,
#     providers.file added for dynamic.file, Type=notify), an earlier rewrite
#     (sofiedotcafe/nixpkgs 86988cd), the pre-rewrite module (NixOS/nixpkgs
#     bdd8295) and a proposed install/routing rewrite (jackrosenberg/nixpkgs
#     23f8cdb); nix/edge.nix `traefikConfig` works with each of them
#   nixos/modules/services/databases/postgresql.nix (25.11 and later:
#     ensureDatabases, ensureUsers, postgresql-setup.service as a oneshot
#     with RemainAfterExit, postgresql.target, `local all all peer`)
#   nixos/modules/config/system-path.nix (curl, netcat and util-linux are
#     always installed), nixos/modules/testing/test-instrumentation.nix
#   nixos/lib/testing/{nodes,driver,testScript}.nix, nixos/lib/
#     test-script-prepend.py and nixos/lib/test-driver/src/test_driver/
#     machine/__init__.py (NixOS/nixpkgs 003d581, 0b73a0c, f0c61c2, 161b3b0,
#     b09f2c7): one node named `machine`; mypy and pyflakes run on the script;
#     wait_for_unit, wait_for_open_port, wait_until_succeeds,
#     wait_until_fails, succeed, subtest
#   pkgs/build-support/testers/default.nix (NixOS/nixpkgs 0136356):
#     runNixOSTest sets node.pkgs, so nodes leave nixpkgs.* alone
#   systemd.exec(5): an EnvironmentFile= value in single quotes may span
#     lines; LoadCredential= copies a file the manager reads as root into
#     the unit's credentials directory, %d in Environment= (systemd.unit(5)
#     specifiers); services/auth/src/{config,keys}.rs: AUTH_SIGNING_KEY is a
#     PKCS#8 PEM Ed25519 key, what `openssl genpkey -algorithm ed25519` writes
#   /tmp/contract/issue11.md (the access rules and service identities the
#     services implement): a client secret is 32 random bytes, base64url
#     without padding; AUTH_CLIENTS_FILE lines are `<client>:<hex sha256>`;
#     `auth admin create --email E` reads AUTH_ADMIN_PASSWORD and DATABASE_URL
#   nixos/modules/services/networking/nats.nix (NixOS/nixpkgs, the
#     validateConfig era: enable, jetstream, port, dataDir, settings as JSON
#     config; no `host` option, unit nats.service); nats-server's
#     server/opts.go (`host`, `http` as "<host>:<port>"), its monitoring
#     endpoints /healthz?js-enabled-only=true and /jsz?accounts=true&streams=true
#   crates/events/src/relay.rs: outbox_published_total, outbox_pending
#   systemd-run(1): --wait --pipe propagate the command's output and exit
#     status; a transient unit with DynamicUser=yes and User=auth shares the
#     running platform-auth unit's dynamic user, so PostgreSQL's peer
#     authentication maps it to role auth
{
  # nix/lib.nix's `platform` (the services present in this checkout)
  platform,
  # nix/lib.nix itself
  platformLib,
  # nix/edge.nix applied to the repository
  edge,
  # the flake's nixosModules.default
  nixosModule,
}:
let
  inherit (platform) services;
  has = name: services ? ${name};

  # The token issuer (auth), by services.toml's token_issuer.
  issuer = platformLib.issuer platform.declared;
  hasIssuer = has issuer.name;

  # The issuer's signing key, generated once per VM; it survives restarts.
  keyDir = "/var/lib/platform-${issuer.name}-key";
  keyEnv = "${keyDir}/${issuer.name}.env";
  targetPort = 8000;

  # The services' client identities at the issuer, generated once per VM like
  # the key: <client>.secret for each client, and the issuer's clients file.
  credentialsDir = "/var/lib/platform-credentials";
  clients = platformLib.tokenClients services;
  secretFile = client: "${credentialsDir}/${client}.secret";
  clientsFile = "${credentialsDir}/${issuer.name}-clients";
  clientSecretFiles = builtins.listToAttrs (
    map (client: {
      name = client;
      value = secretFile client;
    }) clients
  );
  unitOf = name: "platform-${name}.service";

  # The issuer's operator commands use its unit's DATABASE_URL (the module's default).
  issuerDatabaseUrl = if hasIssuer then platformLib.localDatabaseUrl services.${issuer.name} else "";

  toPython = builtins.toJSON;
  ports = builtins.mapAttrs (_: s: s.port) services;
  databases = builtins.mapAttrs (_: s: s.database) services;

  # The services here that publish or consume events, and the broker they
  # share (the NixOS module's default URL: loopback, this port).
  eventServices = builtins.filter (name: services.${name}.usesEvents) (builtins.attrNames services);
  natsPort = 4222;
  natsMonitorPort = 8222;
in
{
  inherit has;

  # Whether `name` is here and publishes or consumes events.
  usesEvents = name: has name && services.${name}.usesEvents;

  node =
    {
      config,
      lib,
      options,
      pkgs,
      ...
    }:
    {
      imports = [ nixosModule ];

      virtualisation = {
        memorySize = 2048;
        cores = 2;
      };

      services.platform = lib.mkMerge [
        (lib.mapAttrs (_: _: { enable = true; }) services)
        (lib.optionalAttrs (has "caller") {
          # greeter may be pointed at servers on this machine (the HTTP
          # target below); private and cloud-metadata ranges stay refused.
          caller.environment.CALLER_ALLOWED_NETWORKS = "127.0.0.0/8,::1/128";
        })
        (lib.optionalAttrs hasIssuer {
          ${issuer.name} = {
            environmentFile = keyEnv;
            # Traefik, on loopback, forwards the client's address: the
            # proxies deploy/edge/edge.toml names for running locally.
            environment = edge.trustedProxiesEnv "local";
          };
        })
        (lib.optionalAttrs hasIssuer (
          lib.genAttrs clients (client: {
            clientSecretFile = secretFile client;
          })
          // {
            ${issuer.name}.clientsFile = clientsFile;
          }
        ))
      ];

      # A key in PKCS#8 PEM (what auth reads) as a multi-line, single-quoted
      # EnvironmentFile value: systemd reads the file as root, so the key
      # needs no file the dynamic user could read, and never enters the store.
      systemd.services."platform-${issuer.name}-signing-key" = lib.mkIf hasIssuer {
        description = "Generate the ${issuer.name} service's Ed25519 signing key once";
        requiredBy = [ (unitOf issuer.name) ];
        before = [ (unitOf issuer.name) ];
        path = [ pkgs.openssl ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          StateDirectory = baseNameOf keyDir;
          StateDirectoryMode = "0700";
          UMask = "0077";
        };
        script = ''
          env=${keyEnv}
          if [ ! -s "$env" ]; then
            key="$(openssl genpkey -algorithm ed25519)"
            printf "AUTH_SIGNING_KEY='%s'\n" "$key" > "$env.tmp"
            mv "$env.tmp" "$env"
          fi
        '';
      };

      # Each client's secret (32 random bytes, base64url without padding),
      # made once and kept; auth's clients file is written from them at every
      # boot. The files stay root's (0600 in a 0700 directory): systemd reads
      # them for each unit's LoadCredential=.
      systemd.services.platform-service-credentials = lib.mkIf hasIssuer {
        description = "Generate the services' client secrets and ${issuer.name}'s clients file";
        requiredBy = map unitOf ([ issuer.name ] ++ clients);
        before = map unitOf ([ issuer.name ] ++ clients);
        # coreutils (basenc, sha256sum, cut) is on every unit's PATH
        path = [ pkgs.openssl ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          StateDirectory = baseNameOf credentialsDir;
          StateDirectoryMode = "0700";
          UMask = "0077";
        };
        script = ''
          for client in ${lib.escapeShellArgs clients}; do
            secret="${credentialsDir}/$client.secret"
            if [ ! -s "$secret" ]; then
              openssl rand 32 | basenc --base64url | tr -d '=\n' > "$secret.tmp"
              [ "$(wc -c < "$secret.tmp")" -eq 43 ]
              mv "$secret.tmp" "$secret"
            fi
          done
          for client in ${lib.escapeShellArgs clients}; do
            printf '%s:%s\n' "$client" "$(sha256sum < "${credentialsDir}/$client.secret" | cut -d' ' -f1)"
          done > "${clientsFile}.tmp"
          mv "${clientsFile}.tmp" "${clientsFile}"
        '';
      };

      services.nats = {
        port = natsPort;
        settings = {
          # Monitoring (health, JetStream's streams) for the scripts, on loopback.
          http = "127.0.0.1:${toString natsMonitorPort}";
          # `systemctl stop` is a lame-duck shutdown (26.05: SIGUSR2), which
          # spreads its clients' disconnection over 2 minutes by default.
          lame_duck_duration = "5s";
          lame_duck_grace_period = "1s";
        };
      };

      services.traefik = edge.traefikConfig options.services.traefik;
      # The 26.05 module runs Traefik as Type=notify with WatchdogSec=1s and
      # Restart=always (start limit 5): on a loaded VM a watchdog ping late by
      # a second kills it, five times and the unit has failed. Traefik pings
      # at half the interval it is given; 30 s is a real watchdog, not a trap.
      # Earlier modules (Type=simple) set none, and get none.
      systemd.services.traefik.serviceConfig = lib.mkIf (options.services.traefik ? static) {
        WatchdogSec = lib.mkForce "30s";
      };

      # The external URL greeter checks through caller.
      systemd.services.http-target = {
        description = "A local HTTP server for greeter to check through caller";
        wantedBy = [ "multi-user.target" ];
        serviceConfig = {
          ExecStart = lib.concatStringsSep " " [
            (lib.getExe pkgs.python3)
            "-m http.server ${toString targetPort} --bind 127.0.0.1"
            "--directory ${pkgs.writeTextDir "hello.txt" "hello from the VM\n"}"
          ];
          DynamicUser = true;
        };
      };

      # curl for the scripts; the issuer's binary for its operator commands
      # (`auth admin create`), which the scripts run as its dynamic user.
      environment.systemPackages = [
        pkgs.curl
      ]
      ++ lib.optional hasIssuer config.services.platform.${issuer.name}.package;
    };

  # Python shared by the test scripts (after the driver's own prelude, which
  # defines `machine`, `subtest` and the rest).
  prelude = ''
    import base64
    import json
    import shlex
    import time
    from typing import Any, Callable, Optional

    EDGE = "http://127.0.0.1:${toString edge.webPort}"
    TRAEFIK_PING = "http://127.0.0.1:${toString edge.metricsPort}/ping"
    HTTP_TARGET = "http://127.0.0.1:${toString targetPort}"
    # every service in this checkout and its port (services.toml)
    PORTS: dict[str, int] = ${toPython ports}
    DATABASES: dict[str, str] = ${toPython databases}
    # each client's secret at auth, in the file the VM generated at boot
    CLIENT_SECRETS: dict[str, str] = ${toPython clientSecretFiles}
    # the token issuer (auth) and its DATABASE_URL (its unit's: the socket,
    # peer authentication as the role named after it)
    ISSUER = ${toPython issuer.name}
    AUTH_DATABASE_URL = ${toPython issuerDatabaseUrl}
    # the services that publish or consume events, and their broker (NATS, JetStream)
    EVENT_SERVICES: list[str] = ${toPython eventServices}
    NATS_PORT = ${toString natsPort}
    NATS_MONITOR = "http://127.0.0.1:${toString natsMonitorPort}"


    class Response:
        def __init__(self, status: int, headers: dict[str, str], body: str) -> None:
            self.status = status
            self.headers = headers
            self.body = body

        def json(self) -> Any:
            return json.loads(self.body)

        def expect(self, status: int) -> "Response":
            assert self.status == status, f"wanted HTTP {status}, got {self.status}: {self.body}"
            return self


    def request(
        method: str,
        url: str,
        body: Optional[Any] = None,
        token: Optional[str] = None,
        headers: Optional[dict[str, str]] = None,
        form: Optional[str] = None,
    ) -> Response:
        """One HTTP request made with curl inside the VM: a JSON `body`, or a `form`
        body sent as it is (set its Content-Type in `headers`)."""
        args = [
            "curl", "--silent", "--show-error", "--max-time", "30", "--request", method,
            "--dump-header", "/tmp/response-headers", "--output", "/tmp/response-body",
            "--write-out", "%{http_code}",
        ]
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = "application/json"
            args += ["--data-binary", json.dumps(body)]
        elif form is not None:
            args += ["--data-binary", form]
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        for name, value in sent.items():
            args += ["--header", f"{name}: {value}"]
        args.append(url)
        status = int(machine.succeed(shlex.join(args)))
        received: dict[str, str] = {}
        for line in machine.succeed("cat /tmp/response-headers").splitlines():
            if line.upper().startswith("HTTP/"):
                received = {}  # only the final response's headers
            elif ":" in line:
                name, value = line.split(":", 1)
                received[name.strip().lower()] = value.strip()
        return Response(status, received, machine.succeed("cat /tmp/response-body"))


    def rpc(method: str, body: Any, token: Optional[str] = None) -> Response:
        """A Connect unary call (JSON) through the edge, e.g. rpc("greeter.v1.GreeterService/Greet", {...})."""
        return request("POST", f"{EDGE}/{method}", body, token)


    def signup(email: str, password: str) -> str:
        answer = request("POST", f"{EDGE}/auth/signup", {"email": email, "password": password}).expect(201).json()
        assert answer["user"]["email"] == email, answer["user"]
        return str(answer["tokens"]["access_token"])


    def login(email: str, password: str) -> str:
        answer = request("POST", f"{EDGE}/auth/login", {"email": email, "password": password}).expect(200).json()
        assert answer["token_type"] == "Bearer", answer["token_type"]
        return str(answer["access_token"])


    def service_token(client: str) -> str:
        """A service token for `client` from auth's token endpoint on loopback
        (OAuth2 client credentials, the client's secret as HTTP Basic)."""
        secret = machine.succeed(f"cat {CLIENT_SECRETS[client]}").strip()
        answer = request(
            "POST",
            f"http://127.0.0.1:{PORTS[ISSUER]}/auth/token",
            headers={
                "Authorization": "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            form="grant_type=client_credentials",
        ).expect(200).json()
        return str(answer["access_token"])


    def auth_admin(*args: str, password: Optional[str] = None) -> str:
        """`auth <args>` (an operator command) as auth's dynamic user, with auth's
        database over the socket (peer authentication as role auth)."""
        env = {"DATABASE_URL": AUTH_DATABASE_URL}
        if password is not None:
            env["AUTH_ADMIN_PASSWORD"] = password
        command = [
            "systemd-run", "--quiet", "--wait", "--pipe", "--collect",
            "--property=DynamicUser=yes", "--property=User=auth", "--property=Group=auth",
        ]
        command += [f"--setenv={name}={value}" for name, value in env.items()]
        return machine.succeed(shlex.join(command) + ' "$(command -v auth)" ' + shlex.join(args) + " </dev/null")


    def metric(name: str, service: str) -> float:
        """The sum of a metric's samples (every label set) on a service's /metrics; 0 if it has none."""
        text = machine.succeed(f"curl --fail --silent --max-time 10 http://127.0.0.1:{PORTS[service]}/metrics")
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name + " ") or line.startswith(name + "{")
        )


    def eventually(what: str, check: Callable[[], bool], timeout: int = 60) -> None:
        """Asks `check` once a second until it holds; fails naming `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
            time.sleep(1)


    def main_pid(unit: str) -> int:
        return int(machine.succeed(f"systemctl show --property=MainPID --value {unit}"))


    def wait_ready(name: str) -> None:
        """A service's unit is active, its port open and /readyz answers 200 (its database answers)."""
        machine.wait_for_unit(f"platform-{name}.service")
        machine.wait_for_open_port(PORTS[name], "127.0.0.1")
        machine.wait_until_succeeds(f"curl --fail --silent --max-time 10 http://127.0.0.1:{PORTS[name]}/readyz")


    def wait_for_platform() -> None:
        """PostgreSQL with its databases and roles, NATS with JetStream, every service ready, Traefik routing."""
        machine.wait_for_unit("postgresql-setup.service")
        if EVENT_SERVICES:
            machine.wait_for_unit("nats.service")
            machine.wait_for_open_port(NATS_PORT, "127.0.0.1")
            machine.wait_until_succeeds("curl --fail --silent " + shlex.quote(f"{NATS_MONITOR}/healthz?js-enabled-only=true"))
        for name in PORTS:
            wait_ready(name)
        machine.wait_for_unit("http-target.service")
        machine.wait_for_open_port(${toString targetPort}, "127.0.0.1")
        machine.wait_for_unit("traefik.service")
        machine.wait_for_open_port(${toString edge.webPort}, "127.0.0.1")
        machine.wait_until_succeeds(f"curl --fail --silent {TRAEFIK_PING}")
        # the file provider has loaded the routers once a routed path answers
        machine.wait_until_succeeds(f"curl --fail --silent --max-time 10 {EDGE}/auth/.well-known/jwks.json")
  '';
}
