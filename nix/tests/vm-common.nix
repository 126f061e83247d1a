# What the NixOS VM tests share: one node running the whole platform the way
# a NixOS host would, and Python helpers for their test scripts.
#
# The node: PostgreSQL (one database and one role per service, peer
# authentication over the Unix socket, all from nix/module.nix), every
# service from the flake's NixOS modules with their hardened units, Traefik
# on the edge's port configured from the committed edge files (nix/edge.nix),
# auth's signing key generated inside the VM at first boot, and a local HTTP
# server for greeter to check through caller.
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
#     lines; services/auth/src/{config,keys}.rs: AUTH_SIGNING_KEY is a
#     PKCS#8 PEM Ed25519 key, what `openssl genpkey -algorithm ed25519` writes
{
  # nix/lib.nix's `platform` (the services present in this checkout)
  platform,
  # nix/edge.nix applied to the repository
  edge,
  # the flake's nixosModules.default
  nixosModule,
}:
let
  inherit (platform) services;
  has = name: services ? ${name};

  # auth's signing key, generated once per VM; it survives restarts of auth.
  keyDir = "/var/lib/platform-auth-key";
  targetPort = 8000;

  toPython = builtins.toJSON;
  ports = builtins.mapAttrs (_: s: s.port) services;
  databases = builtins.mapAttrs (_: s: s.database) services;
in
{
  inherit has;

  node =
    {
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
        (lib.optionalAttrs (has "auth") {
          auth = {
            environmentFile = "${keyDir}/auth.env";
            # Traefik, on loopback, forwards the client's address.
            environment.AUTH_TRUSTED_PROXIES = "127.0.0.0/8,::1/128";
          };
        })
      ];

      # A key in PKCS#8 PEM (what auth reads) as a multi-line, single-quoted
      # EnvironmentFile value: systemd reads the file as root, so the key
      # needs no file the dynamic user could read, and never enters the store.
      systemd.services.platform-auth-signing-key = lib.mkIf (has "auth") {
        description = "Generate the auth service's Ed25519 signing key once";
        requiredBy = [ "platform-auth.service" ];
        before = [ "platform-auth.service" ];
        path = [ pkgs.openssl ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          StateDirectory = baseNameOf keyDir;
          StateDirectoryMode = "0700";
          UMask = "0077";
        };
        script = ''
          env=${keyDir}/auth.env
          if [ ! -s "$env" ]; then
            key="$(openssl genpkey -algorithm ed25519)"
            printf "AUTH_SIGNING_KEY='%s'\n" "$key" > "$env.tmp"
            mv "$env.tmp" "$env"
          fi
        '';
      };

      services.traefik = edge.traefikConfig options.services.traefik;

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

      environment.systemPackages = [ pkgs.curl ];
    };

  # Python shared by the test scripts (after the driver's own prelude, which
  # defines `machine`, `subtest` and the rest).
  prelude = ''
    import json
    import shlex
    from typing import Any, Optional

    EDGE = "http://127.0.0.1:${toString edge.webPort}"
    TRAEFIK_PING = "http://127.0.0.1:${toString edge.metricsPort}/ping"
    HTTP_TARGET = "http://127.0.0.1:${toString targetPort}"
    # every service in this checkout and its port (nix/services.nix)
    PORTS: dict[str, int] = ${toPython ports}
    DATABASES: dict[str, str] = ${toPython databases}


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
    ) -> Response:
        """One HTTP request made with curl inside the VM."""
        args = [
            "curl", "--silent", "--show-error", "--max-time", "30", "--request", method,
            "--dump-header", "/tmp/response-headers", "--output", "/tmp/response-body",
            "--write-out", "%{http_code}",
        ]
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = "application/json"
            args += ["--data-binary", json.dumps(body)]
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


    def main_pid(unit: str) -> int:
        return int(machine.succeed(f"systemctl show --property=MainPID --value {unit}"))


    def wait_ready(name: str) -> None:
        """A service's unit is active, its port open and /readyz answers 200 (its database answers)."""
        machine.wait_for_unit(f"platform-{name}.service")
        machine.wait_for_open_port(PORTS[name], "127.0.0.1")
        machine.wait_until_succeeds(f"curl --fail --silent --max-time 10 http://127.0.0.1:{PORTS[name]}/readyz")


    def wait_for_platform() -> None:
        """PostgreSQL with its databases and roles, every service ready, Traefik routing."""
        machine.wait_for_unit("postgresql-setup.service")
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
