# The NixOS module of one platform service, made from its entry in
# ./services.nix:
#
#   services.platform.<name> = { enable, package, host, port, databaseUrl,
#     createLocalDatabase, peers, environment, environmentFile, openFirewall }
#
# The unit is platform-<name>.service; it runs as a dynamic user named <name>,
# which is also its PostgreSQL role (peer authentication over the socket).
{
  name,
  entry,
  declared,
  # pkgs -> the service's package for pkgs' platform (the flake's own build)
  packageFor,
}:
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    literalExpression
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    optional
    optionals
    types
    ;
  platformLib = import ./lib.nix { inherit lib; };
  cfg = config.services.platform.${name};

  # A peer's local address: its configured port when its module is loaded,
  # the port from services.nix otherwise.
  localPeerUrl =
    peer: "http://127.0.0.1:${toString (config.services.platform.${peer}.port or declared.${peer}.port)}";

  # postgresql.target (NixOS >= 25.11) is reached once the server runs and
  # postgresql-setup.service has created the databases and roles.
  postgresqlUnits = [
    "postgresql.service"
    "postgresql-setup.service"
    "postgresql.target"
  ];

  # postgres://user:password@... — a secret that must not land in the store.
  urlHasPassword = builtins.match "postgres(ql)?://[^/@:]*:[^/@]*@.*" cfg.databaseUrl != null;
in
{
  options.services.platform.${name} = {
    enable = mkEnableOption "the platform's ${name} service (${entry.description})";

    package = mkOption {
      type = types.package;
      default = packageFor pkgs;
      defaultText = literalExpression "self.packages.\${pkgs.stdenv.hostPlatform.system}.${name}";
      description = "The package providing `bin/${name}`.";
    };

    host = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "0.0.0.0";
      description = ''
        Address to listen on (HOST). The default keeps the service on
        loopback, behind the edge proxy; set `0.0.0.0` (and `openFirewall`)
        to reach it from other machines.
      '';
    };

    port = mkOption {
      type = types.port;
      default = entry.port;
      description = "Port to listen on (PORT).";
    };

    databaseUrl = mkOption {
      type = types.str;
      default = "postgres://${name}@localhost/${entry.database}?host=/run/postgresql";
      description = ''
        DATABASE_URL. The default reaches the local PostgreSQL over its Unix
        socket as role `${name}` with peer authentication, so it holds no
        secret. A URL with a password must not go here (the Nix store is
        world-readable): put `DATABASE_URL=...` in `environmentFile`, which
        overrides this value.
      '';
    };

    createLocalDatabase = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Enable the local PostgreSQL (`services.postgresql`), create database
        `${entry.database}` owned by role `${name}` (no other role may
        connect to it), and order the service after PostgreSQL's setup.
      '';
    };

    peers = mkOption {
      type = types.attrsOf types.str;
      default = lib.genAttrs entry.peers localPeerUrl;
      defaultText = literalExpression (
        "{ "
        + lib.concatMapStrings (p: "${p} = \"http://127.0.0.1:<services.platform.${p}.port>\"; ") entry.peers
        + "}"
      );
      description = ''
        Base URLs of the services this one calls, by service name; each is
        passed as `<NAME>_URL` (e.g. `caller` as `CALLER_URL`).
      '';
    };

    environment = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        LOG_FORMAT = "json";
        RUST_LOG = "info,sqlx=warn";
      };
      description = "Extra environment variables (not secrets: they end up in the Nix store).";
    };

    environmentFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/${name}.env";
      description = ''
        A file of `NAME=value` lines read by systemd at start (EnvironmentFile=),
        for secrets such as a DATABASE_URL with a password or signing keys.
        Its values override those set by the other options.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open `port` in the firewall.";
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      warnings = optional urlHasPassword ''
        services.platform.${name}.databaseUrl contains a password, which ends up in
        the world-readable Nix store; put DATABASE_URL in environmentFile instead.
      '';

      systemd.services."platform-${name}" = {
        description = "platform ${name}: ${entry.description}";
        wantedBy = [ "multi-user.target" ];
        # Wants=, not Requires=: a PostgreSQL restart must not stop the
        # service; it reports not-ready and reconnects on its own.
        wants = optionals cfg.createLocalDatabase [ "postgresql.target" ];
        after = [ "network.target" ] ++ optionals cfg.createLocalDatabase postgresqlUnits;

        environment = {
          HOST = cfg.host;
          PORT = toString cfg.port;
          DATABASE_URL = cfg.databaseUrl;
          OTEL_SERVICE_NAME = name;
        }
        // lib.mapAttrs' (peer: url: lib.nameValuePair (platformLib.peerEnvVar peer) url) cfg.peers
        // entry.env
        // cfg.environment;

        serviceConfig = {
          ExecStart = lib.getExe' cfg.package name;
          EnvironmentFile = optional (cfg.environmentFile != null) cfg.environmentFile;
          DynamicUser = true;
          User = name;
          Group = name;
          Restart = "on-failure";
          RestartSec = "2s";
          # SIGTERM drains in-flight requests (SHUTDOWN_GRACE_SECS, 10 s by default).
          KillSignal = "SIGTERM";
          TimeoutStopSec = "30s";

          # Hardening: the service needs the network and nothing else.
          NoNewPrivileges = true;
          ProtectSystem = "strict";
          ProtectHome = true;
          PrivateTmp = true;
          PrivateDevices = true;
          ProtectClock = true;
          ProtectHostname = true;
          ProtectKernelLogs = true;
          ProtectKernelModules = true;
          ProtectKernelTunables = true;
          ProtectControlGroups = true;
          ProtectProc = "invisible";
          ProcSubset = "pid";
          RestrictAddressFamilies = [
            "AF_INET"
            "AF_INET6"
            "AF_UNIX"
          ];
          RestrictNamespaces = true;
          RestrictRealtime = true;
          RestrictSUIDSGID = true;
          LockPersonality = true;
          MemoryDenyWriteExecute = true;
          RemoveIPC = true;
          SystemCallArchitectures = "native";
          SystemCallFilter = [
            "@system-service"
            "~@privileged"
            "~@resources"
          ];
          CapabilityBoundingSet = if cfg.port < 1024 then [ "CAP_NET_BIND_SERVICE" ] else [ "" ];
          AmbientCapabilities = optionals (cfg.port < 1024) [ "CAP_NET_BIND_SERVICE" ];
          UMask = "0077";
        };
      };

      networking.firewall.allowedTCPPorts = optionals cfg.openFirewall [ cfg.port ];
    }

    (mkIf cfg.createLocalDatabase {
      services.postgresql = {
        enable = true;
        ensureDatabases = [ entry.database ];
        # ensureDBOwnership needs database and role of the same name; ours
        # differ (greeter owns greeter_db), so ownership is set below.
        ensureUsers = [ { inherit name; } ];
      };
      # Only its own role (and the superuser) may connect: PostgreSQL grants
      # CONNECT and TEMPORARY on every new database to PUBLIC.
      systemd.services.postgresql-setup.postStart = ''
        psql -tAc 'ALTER DATABASE "${entry.database}" OWNER TO "${name}"'
        psql -tAc 'REVOKE ALL ON DATABASE "${entry.database}" FROM PUBLIC'
      '';
    })
  ]);
}
