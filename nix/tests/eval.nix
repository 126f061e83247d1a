# Evaluation tests that need only nixpkgs' `lib` (no packages, no builds):
# nix/check.sh runs them with
#
#   nix-instantiate --eval --strict nix/tests/eval.nix --arg lib 'import <nixpkgs-lib>/lib'
#
# They evaluate flake.nix's outputs function with a stub nixpkgs (just `lib`),
# the service description, the crate closures behind the per-crate sources,
# the Kubernetes defaults, and the NixOS modules through lib.evalModules
# against stand-ins for the NixOS options they set (same types as NixOS).
# The result is a summary; any failed check aborts with its message.
{ lib }:
let
  root = ../..;
  platformLib = import ../lib.nix { inherit lib; };
  platform = platformLib.platform { inherit root; };
  inherit (platform) declared services;

  check = name: cond: if cond then name else throw "nix/tests/eval.nix: FAILED: ${name}";
  eq =
    name: actual: expected:
    if actual == expected then
      name
    else
      throw "nix/tests/eval.nix: FAILED: ${name}: got ${builtins.toJSON actual}, want ${builtins.toJSON expected}";

  # flake.nix's outputs, evaluated with stand-ins for nixpkgs' packages and
  # crane that record the arguments they are given (the real ones need
  # Nix >= 2.31 and nixpkgs itself). This checks the wiring: which packages,
  # images and checks exist per system, and what crane and dockerTools get.
  stubDrv = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    version = "0";
    meta.mainProgram = name;
  };
  stubPkgs =
    system:
    lib.genAttrs [
      "buf"
      "cacert"
      "cargo-nextest"
      "kind"
      "kubectl"
      "libiconv"
      "nixfmt"
      "nixfmt-tree"
      "nodejs"
      "postgresql"
      "procps"
      "rust-analyzer"
      "rustc"
      "sqlx-cli"
      "traefik"
      "tzdata"
    ] stubDrv
    // {
      lib = lib // {
        # lib.fileset needs Nix >= 2.14: record what is selected instead.
        fileset = {
          fileFilter = _: path: { filter = path; };
          maybeMissing = path: { maybe = path; };
          unions = sets: { unions = sets; };
          toSource = args: args;
        };
      };
      stdenv.hostPlatform = {
        inherit system;
        isLinux = lib.hasSuffix "-linux" system;
        isDarwin = lib.hasSuffix "-darwin" system;
      };
      rustPlatform.rustLibSrc = stubDrv "rust-lib-src";
      dockerTools.buildLayeredImage = args: stubDrv "image" // { imageArgs = args; };
      linkFarm = name: entries: stubDrv name // { inherit entries; };
      runCommandLocal = name: _: _: stubDrv name;
      writeShellApplication = args: stubDrv args.name;
    };
  craneStub.mkLib = _: {
    crateNameFromCargoToml =
      { cargoToml }: { version = (builtins.fromTOML (builtins.readFile cargoToml)).workspace.package.version; };
    fileset.commonCargoSources = path: { cargoSources = path; };
    buildDepsOnly = args: { depsOnly = args; };
    buildPackage = args: stubDrv args.pname // { crane = args; };
    cargoClippy = args: args;
    cargoFmt = args: args;
    cargoDoc = args: args;
    cargoAudit = args: args;
    cargoDeny = args: args;
    cargoNextest = args: args;
    devShell = args: args;
  };
  flake = import ../../flake.nix;
  outputs = flake.outputs {
    self = outputs;
    nixpkgs = {
      inherit lib;
      legacyPackages = lib.genAttrs [
        "x86_64-linux"
        "aarch64-linux"
        "aarch64-darwin"
        "x86_64-darwin"
      ] stubPkgs;
    };
    crane = craneStub;
    advisory-db = "/nix/store/00000000000000000000000000000000-advisory-db";
    nixidy = { };
  };
  linux = "x86_64-linux";
  greeterPkg = outputs.packages.${linux}.greeter.crane;
  greeterImage = outputs.packages.${linux}.greeter-image.imageArgs;
  linuxChecks = outputs.checks.${linux};
  # every path a recorded fileset selects
  filesetPaths =
    set:
    if lib.isAttrs set then
      lib.concatMap filesetPaths (lib.attrValues set)
    else if lib.isList set then
      lib.concatMap filesetPaths set
    else if lib.isPath set then
      [ (lib.removePrefix (toString root + "/") (toString set)) ]
    else
      [ ];

  workspaceVersion = (builtins.fromTOML (builtins.readFile (root + "/Cargo.toml"))).workspace.package.version;

  # A stand-in package: types.package accepts it, getExe' reads outPath.
  stubPackage = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    meta.mainProgram = name;
  };

  # The NixOS options the service modules set, with NixOS' types.
  nixosStub =
    { lib, ... }:
    let
      inherit (lib) mkOption types;
    in
    {
      options = {
        warnings = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        networking.firewall.allowedTCPPorts = mkOption {
          type = types.listOf types.port;
          default = [ ];
        };
        services.postgresql = {
          enable = mkOption {
            type = types.bool;
            default = false;
          };
          ensureDatabases = mkOption {
            type = types.listOf types.str;
            default = [ ];
          };
          ensureUsers = mkOption {
            type = types.listOf (
              types.submodule {
                options = {
                  name = mkOption { type = types.str; };
                  ensureDBOwnership = mkOption {
                    type = types.bool;
                    default = false;
                  };
                  ensureClauses = mkOption {
                    type = types.attrsOf (types.nullOr types.bool);
                    default = { };
                  };
                };
              }
            );
            default = [ ];
          };
        };
        systemd.services = mkOption {
          default = { };
          type = types.attrsOf (
            types.submodule {
              options = {
                description = mkOption {
                  type = types.str;
                  default = "";
                };
                wantedBy = mkOption {
                  type = types.listOf types.str;
                  default = [ ];
                };
                wants = mkOption {
                  type = types.listOf types.str;
                  default = [ ];
                };
                requires = mkOption {
                  type = types.listOf types.str;
                  default = [ ];
                };
                after = mkOption {
                  type = types.listOf types.str;
                  default = [ ];
                };
                environment = mkOption {
                  type = types.attrsOf (types.nullOr types.str);
                  default = { };
                };
                postStart = mkOption {
                  type = types.lines;
                  default = "";
                };
                serviceConfig = mkOption {
                  type = types.attrsOf types.anything;
                  default = { };
                };
              };
            }
          );
        };
      };
    };

  # Every declared service, as the flake would build its module once its crate exists.
  moduleFor =
    name: entry:
    import ../module.nix {
      inherit name entry declared;
      packageFor = _: stubPackage name;
    };

  evalSystem =
    modules:
    (lib.evalModules {
      modules = [
        nixosStub
        { _module.args.pkgs = { }; }
      ]
      ++ lib.mapAttrsToList moduleFor declared
      ++ modules;
    }).config;

  all = evalSystem [
    { services.platform = lib.mapAttrs (_: _: { enable = true; }) declared; }
    {
      services.platform.caller.port = 9081;
      services.platform.auth.environmentFile = "/run/secrets/auth.env";
      services.platform.greeter.openFirewall = true;
    }
  ];
  unit = name: all.systemd.services."platform-${name}";

  remoteDb = evalSystem [
    {
      services.platform.caller = {
        enable = true;
        createLocalDatabase = false;
        databaseUrl = "postgres://caller:hunter2@db.internal/caller_db";
      };
    }
  ];

  nothing = evalSystem [ ];

  # What the NixOS manual renders: every option's description and default.
  optionDocs = lib.optionAttrSetToDocList (
    (lib.evalModules {
      modules = [
        nixosStub
        { _module.args.pkgs = { }; }
      ]
      ++ lib.mapAttrsToList moduleFor declared;
    }).options.services.platform
  );

  ports = lib.mapAttrsToList (_: s: s.port) declared;
  databases = lib.mapAttrsToList (_: s: s.database) declared;
in
{
  description = [
    (eq "the five services are declared" (lib.attrNames declared) [
      "auth"
      "caller"
      "gateway"
      "greeter"
      "lang"
    ])
    (check "ports are unique" (lib.length (lib.unique ports) == lib.length ports))
    (check "databases are unique" (lib.length (lib.unique databases) == lib.length databases))
    (check "every peer is declared" (
      lib.all (s: lib.all (p: declared ? ${p}) s.peers) (lib.attrValues declared)
    ))
    (check "kinds are grpc or rest" (
      lib.all (s: lib.elem s.kind [
        "grpc"
        "rest"
      ]) (lib.attrValues declared)
    ))
    (eq "greeter" (lib.getAttrs [ "port" "database" "peers" ] declared.greeter) {
      port = 8080;
      database = "greeter_db";
      peers = [ "caller" ];
    })
    (eq "gateway's peers" declared.gateway.peers [
      "lang"
      "auth"
    ])
    (check "enabled services are exactly those whose crate exists" (
      lib.all (
        name: (services ? ${name}) == builtins.pathExists (root + "/services/${name}/Cargo.toml")
      ) (lib.attrNames declared)
    ))
    (check "greeter and caller are present" (services ? greeter && services ? caller))
    (eq "no devstack crate yet" platform.devstack (
      if builtins.pathExists (root + "/services/devstack/Cargo.toml") then
        "services/devstack"
      else if builtins.pathExists (root + "/crates/devstack/Cargo.toml") then
        "crates/devstack"
      else
        null
    ))
  ];

  crates = [
    (eq "path normalisation" (platformLib.normalizePath "services/greeter/../caller/./src//x") "services/caller/src/x")
    (check "the workspace members include every service present" (
      lib.all (s: lib.elem s.crateDir (platformLib.workspaceMembers root)) (lib.attrValues services)
    ))
    (eq "greeter's crate closure (dev-dependency on caller included)"
      (platformLib.crateClosure root "services/greeter")
      [
        "crates/platform"
        "crates/proto"
        "crates/testkit"
        "services/caller"
        "services/greeter"
      ]
    )
    (eq "caller's crate closure" (platformLib.crateClosure root "services/caller") [
      "crates/platform"
      "crates/proto"
      "crates/testkit"
      "services/caller"
    ])
    (check "every service's closure is made of workspace members" (
      lib.all (
        s: lib.all (d: lib.elem d (platformLib.workspaceMembers root)) (platformLib.crateClosure root s.crateDir)
      ) (lib.attrValues services)
    ))
    (check "crate names are the service names" (
      lib.all (s: platformLib.crateName root s.crateDir == s.name) (lib.attrValues services)
    ))
    (check "versions resolve version.workspace = true" (
      lib.all (s: platformLib.crateVersion root s.crateDir == workspaceVersion) (lib.attrValues services)
    ))
  ];

  flake = [
    (eq "lib.services lists the present services" (lib.attrNames outputs.lib.services) (
      lib.attrNames services
    ))
    (eq "nixosModules" (lib.attrNames outputs.nixosModules) (
      lib.sort lib.lessThan (lib.attrNames services ++ [ "default" ])
    ))
    (eq "image tag from the crate version" outputs.lib.services.greeter.image.tag workspaceVersion)
    (eq "greeter reaches caller by its Service name" outputs.lib.services.greeter.env.CALLER_URL
      "http://caller:8081"
    )
    (eq "listen on all addresses in a pod" outputs.lib.services.caller.env.HOST "0.0.0.0")
    (eq "non-root" outputs.lib.services.caller.securityContext.runAsUser 65532)
    (check "no apps until devstack exists" ((outputs ? apps) == (platform.devstack != null)))
    (eq "systems with packages" (lib.attrNames outputs.packages) [
      "aarch64-darwin"
      "aarch64-linux"
      "x86_64-darwin"
      "x86_64-linux"
    ])
    (eq "systems with checks" (lib.attrNames outputs.checks) [
      "aarch64-linux"
      "x86_64-linux"
    ])
  ];

  packages = [
    (eq "linux packages: binaries, images, all images" (lib.attrNames outputs.packages.${linux}) (
      lib.sort lib.lessThan (
        lib.attrNames services ++ map (n: "${n}-image") (lib.attrNames services) ++ [ "images" ]
      )
    ))
    (eq "darwin packages: binaries only" (lib.attrNames outputs.packages.aarch64-darwin) (lib.attrNames services))
    (eq "one image archive per service" (map (e: e.name) outputs.packages.${linux}.images.entries) (
      map (n: "${n}.tar.gz") (lib.attrNames services)
    ))
    (eq "cargoExtraArgs" greeterPkg.cargoExtraArgs "-p greeter")
    (check "strictDeps, no tests in the package, shared deps" (
      greeterPkg.strictDeps && !greeterPkg.doCheck && greeterPkg.cargoArtifacts ? depsOnly
    ))
    (eq "package version" greeterPkg.version workspaceVersion)
    (check "greeter's source: its closure, the contracts and migrations, no README" (
      let
        paths = filesetPaths greeterPkg.src;
      in
      lib.all (p: lib.elem p paths) [
        "Cargo.toml"
        "Cargo.lock"
        "proto"
        "services/greeter"
        "services/greeter/migrations"
        "services/caller"
        "services/caller/migrations"
        "crates/proto"
      ]
      && !(lib.elem "README.md" paths)
      && !(lib.elem "crates/authn" paths)
      && !(lib.elem "deny.toml" paths)
    ))
    (check "deny's source adds deny.toml" (lib.elem "deny.toml" (filesetPaths linuxChecks.deny.src)))
    (check "the workspace source keeps rustfmt.toml" (lib.elem "rustfmt.toml" (filesetPaths linuxChecks.fmt.src)))
    (eq "image tag" greeterImage.tag workspaceVersion)
    (eq "image user" greeterImage.config.User "65532:65532")
    (eq "image port" greeterImage.config.ExposedPorts { "8080/tcp" = { }; })
    (eq "image revision label (dirty tree)" greeterImage.config.Labels."org.opencontainers.image.revision" "dirty")
    (eq "image version label" greeterImage.config.Labels."org.opencontainers.image.version" workspaceVersion)
    (eq "image contents: CA certificates and tzdata" (map (p: p.name) greeterImage.contents) [
      "cacert"
      "tzdata"
    ])
    (check "image listens on all addresses" (lib.elem "HOST=0.0.0.0" greeterImage.config.Env))
    (eq "checks" (lib.attrNames linuxChecks) (
      lib.sort lib.lessThan (
        lib.attrNames services
        ++ [
          "audit"
          "clippy"
          "deny"
          "doc"
          "fmt"
          "nextest"
          "nixfmt"
        ]
      )
    ))
    (eq "clippy denies warnings on all targets" linuxChecks.clippy.cargoClippyExtraArgs "--all-targets -- -D warnings")
    (check "nextest has PostgreSQL and kill(1)" (
      lib.elem "postgresql" (map (p: p.name) linuxChecks.nextest.nativeBuildInputs)
      && lib.elem "procps" (map (p: p.name) linuxChecks.nextest.nativeBuildInputs)
      && lib.hasInfix "TEST_DATABASE_URL" linuxChecks.nextest.preCheck
    ))
    (eq "audit uses the pinned advisory-db" linuxChecks.audit.advisory-db
      "/nix/store/00000000000000000000000000000000-advisory-db"
    )
    (check "devshell tools" (
      lib.all (t: lib.elem t (map (p: p.name) outputs.devShells.${linux}.default.packages)) [
        "rust-analyzer"
        "postgresql"
        "traefik"
        "buf"
        "sqlx-cli"
        "cargo-nextest"
        "nodejs"
        "kubectl"
        "kind"
      ]
    ))
    (check "devshell banner" (lib.hasInfix "nix flake check" outputs.devShells.aarch64-darwin.default.shellHook))
  ];

  modules = [
    (eq "one unit per service" (lib.attrNames (
      lib.filterAttrs (n: _: lib.hasPrefix "platform-" n) all.systemd.services
    )) (map (n: "platform-${n}") (lib.attrNames declared)))
    (eq "listens on loopback by default" (unit "greeter").environment.HOST "127.0.0.1")
    (eq "PORT" (unit "lang").environment.PORT "3000")
    (eq "peer URL follows the peer's configured port" (unit "greeter").environment.CALLER_URL
      "http://127.0.0.1:9081"
    )
    (eq "gateway's peers" (lib.getAttrs [ "LANG_URL" "AUTH_URL" ] (unit "gateway").environment) {
      LANG_URL = "http://127.0.0.1:3000";
      AUTH_URL = "http://127.0.0.1:8090";
    })
    (eq "database over the socket with peer auth" (unit "greeter").environment.DATABASE_URL
      "postgres://greeter@localhost/greeter_db?host=/run/postgresql"
    )
    (eq "ExecStart" (unit "greeter").serviceConfig.ExecStart
      "/nix/store/00000000000000000000000000000000-greeter/bin/greeter"
    )
    (check "hardened" (
      lib.all (
        s:
        let
          c = (unit s).serviceConfig;
        in
        c.DynamicUser && c.User == s && c.NoNewPrivileges && c.ProtectSystem == "strict" && c.Restart == "on-failure"
      ) (lib.attrNames declared)
    ))
    (check "ordered after PostgreSQL's setup" (
      lib.all (
        s:
        lib.elem "postgresql-setup.service" (unit s).after
        && lib.elem "postgresql.service" (unit s).after
        && lib.elem "postgresql.target" (unit s).wants
      ) (lib.attrNames declared)
    ))
    (eq "environment file" (unit "auth").serviceConfig.EnvironmentFile [ "/run/secrets/auth.env" ])
    (eq "no environment file" (unit "caller").serviceConfig.EnvironmentFile [ ])
    (eq "firewall" all.networking.firewall.allowedTCPPorts [ 8080 ])
    (check "local PostgreSQL enabled" all.services.postgresql.enable)
    (eq "one database per service" (lib.sort lib.lessThan all.services.postgresql.ensureDatabases) (
      lib.sort lib.lessThan databases
    ))
    (eq "one role per service" (lib.sort lib.lessThan (map (u: u.name) all.services.postgresql.ensureUsers)) (
      lib.attrNames declared
    ))
    (check "each database is owned by its role" (
      lib.all (
        s:
        lib.hasInfix ''ALTER DATABASE "${s.database}" OWNER TO "${s.name}"'' all.systemd.services.postgresql-setup.postStart
      ) (lib.attrValues declared)
    ))
    (eq "no warnings" all.warnings [ ])
    (check "a password in databaseUrl warns" (lib.length remoteDb.warnings == 1))
    (check "createLocalDatabase = false leaves PostgreSQL alone" (
      !remoteDb.services.postgresql.enable && !(lib.elem "postgresql.service" remoteDb.systemd.services.platform-caller.after)
    ))
    (eq "disabled services add nothing" nothing.systemd.services { })
    (check "option docs render (${toString (lib.length optionDocs)} options)" (
      lib.length optionDocs == 10 * lib.length (lib.attrNames declared)
    ))
  ];
}
