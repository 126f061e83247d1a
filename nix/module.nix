# The NixOS module of one platform service, made from its table in
# services.toml (normalized by ./lib.nix):
#
#   services.platform.<name> = { enable, package, host, port, databaseUrl,
#     createLocalDatabase, peers, environment, environmentFile, openFirewall }
#   plus, for every service but the token issuer (auth), clientSecretFile,
#   and for the issuer, clientsFile.
#
# The unit is platform-<name>.service; it runs as a dynamic user named <name>,
# which is also its PostgreSQL role (peer authentication over the socket).
# It starts after the units of its peers that run on the same machine.
#
# A service whose crate uses events (nix/lib.nix `usesEvents`) gets NATS_URL
# from services.platform.broker (./broker.nix, shared by all services): by
# default the local NATS with JetStream, which it enables and starts after.
#
# Secret files (clientSecretFile, clientsFile) are read by systemd as root
# and handed to the unit with LoadCredential=, so the dynamic user reads them
# from its credentials directory (%d) and they never enter the Nix store.
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
  broker = config.services.platform.broker;
  # The local broker's unit, for a service that uses events.
  brokerUnits = optional (entry.usesEvents && broker.local) "nats.service";

  # The issuer (token_issuer in services.toml: auth) issues the tokens;
  # every other service is its client.
  issuer = platformLib.issuer declared;
  isClient = platformLib.isTokenClient entry;

  # A file outside the store, as a string: a Nix path literal would be
  # copied into the world-readable store, which secrets must never be.
  secretFileType = types.nullOr (
    types.pathWith {
      inStore = false;
      absolute = true;
    }
  );

  # A peer's local address: its configured port when its module is loaded,
  # the port from services.toml otherwise.
  localPeerUrl =
    peer:
    "http://127.0.0.1:${toString (config.services.platform.${peer}.port or declared.${peer}.port)}";

  # Where this service reaches the issuer: the issuer's peer URL when it is
  # a peer (services.toml requires it of every client), else the local one.
  issuerUrl = cfg.peers.${issuer.name} or (localPeerUrl issuer.name);

  # The peers whose units run on this machine: this unit starts after them.
  localPeerUnits = map (peer: "platform-${peer}.service") (
    lib.filter (peer: config.services.platform.${peer}.enable or false) entry.peers
  );

  # name -> file, handed to the unit by LoadCredential= (read as root).
  credentials =
    lib.optionalAttrs (isClient && cfg.clientSecretFile != null) {
      client-secret = cfg.clientSecretFile;
    }
    // lib.optionalAttrs (entry.tokenIssuer && cfg.clientsFile != null) { clients = cfg.clientsFile; };

  # postgresql.target (NixOS >= 25.11) is reached once the server runs and
  # postgresql-setup.service has created the databases and roles.
  postgresqlUnits = [
    "postgresql.service"
    "postgresql-setup.service"
    "postgresql.target"
  ];

  # The units on this machine the service starts after: PostgreSQL's, the
  # broker's, its peers'.
  localUnits = optionals cfg.createLocalDatabase postgresqlUnits ++ brokerUnits ++ localPeerUnits;

  # postgres://user:password@... — a secret that must not land in the store.
  urlHasPassword = builtins.match "postgres(ql)?://[^/@:]*:[^/@]*@.*" cfg.databaseUrl != null;
in
{
  imports = [ ./broker.nix ];

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
      default = platformLib.localDatabaseUrl entry;
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
        + lib.concatMapStrings (
          p: "${p} = \"http://127.0.0.1:<services.platform.${p}.port>\"; "
        ) entry.peers
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
  }
  // lib.optionalAttrs isClient {
    clientSecretFile = mkOption {
      type = secretFileType;
      default = null;
      example = "/run/secrets/${name}-client-secret";
      description = ''
        A file holding this service's client secret at ${issuer.name} (one
        line; its client id is `${name}`), with which it gets service tokens
        from ${issuer.name}'s token endpoint (AUTH_TOKEN_URL) for the calls
        that need one. systemd reads it as root and passes it with
        LoadCredential= (SERVICE_CLIENT_SECRET_FILE points into the unit's
        credentials directory), so only this unit can read it and it stays
        out of the Nix store. ${issuer.name} must know the secret's SHA-256
        (services.platform.${issuer.name}.clientsFile). null: no identity,
        and calls that need a service token fail.
      '';
    };
  }
  // lib.optionalAttrs entry.tokenIssuer {
    clientsFile = mkOption {
      type = secretFileType;
      default = null;
      example = "/run/secrets/${name}-clients";
      description = ''
        The services' client identities (AUTH_CLIENTS_FILE): one
        `<client_id>:<lowercase hex SHA-256 of its secret>` entry per line
        (or comma), e.g. `greeter:9f86d0…`; blank lines and `#` comments are
        ignored. Passed with LoadCredential= like the clients' secret files.
        null: no client may get a service token.
      '';
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
        # service; it reports not-ready and reconnects on its own. Nor must
        # the broker's: events wait in the outbox meanwhile.
        wants = optionals cfg.createLocalDatabase [ "postgresql.target" ] ++ brokerUnits;
        after = [ "network.target" ] ++ localUnits;

        environment = {
          HOST = cfg.host;
          PORT = toString cfg.port;
          DATABASE_URL = cfg.databaseUrl;
          OTEL_SERVICE_NAME = name;
        }
        // lib.optionalAttrs entry.usesEvents { NATS_URL = broker.url; }
        // lib.mapAttrs' (peer: url: lib.nameValuePair (platformLib.peerEnvVar peer) url) cfg.peers
        // lib.optionalAttrs isClient (platformLib.tokenEnv issuerUrl)
        // lib.optionalAttrs (credentials ? client-secret) {
          SERVICE_CLIENT_SECRET_FILE = "%d/client-secret";
        }
        // lib.optionalAttrs (credentials ? clients) { AUTH_CLIENTS_FILE = "%d/clients"; }
        // entry.env
        // cfg.environment;

        serviceConfig = {
          ExecStart = lib.getExe' cfg.package name;
          EnvironmentFile = optional (cfg.environmentFile != null) cfg.environmentFile;
          # %d in the environment above is the directory these land in.
          LoadCredential = lib.mapAttrsToList (id: file: "${id}:${file}") credentials;
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

    # One NATS for every service here that uses events (their definitions
    # merge), on loopback only: nats-server listens on every address unless
    # told, and nixpkgs' module has no option for it but `settings`.
    (mkIf (entry.usesEvents && broker.local) {
      services.nats = {
        enable = true;
        jetstream = true;
        settings.host = lib.mkDefault "127.0.0.1";
      };
    })

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
