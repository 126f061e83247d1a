# Evaluation tests that need only nixpkgs' `lib` (no packages, no builds):
# nix/check.sh runs them with
#
#   nix-instantiate --eval --strict nix/tests/eval.nix --arg lib 'import <nixpkgs-lib>/lib'
#
# They evaluate flake.nix's outputs function with a stub nixpkgs (just `lib`),
# the service description, the crate closures behind the per-crate sources,
# the Kubernetes defaults, `nix run .#dev`, and the NixOS modules through
# lib.evalModules against stand-ins for the NixOS options they set (same
# types as NixOS); the edge files (deploy/edge) against nix/services.nix; and
# the NixOS VM tests: their node, with the real service modules, against
# stand-ins for the options it sets (Traefik's as nixos-26.05 declares them
# and as earlier releases did), and their scripts. The result is a summary;
# any failed check aborts with its message. `testScripts` is not a check:
# nix/check.sh compiles those scripts with Python.
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
      "curl"
      "kind"
      "kubectl"
      "libiconv"
      "nixfmt"
      "nixfmt-tree"
      "nodejs"
      "openssl"
      "postgresql"
      "procps"
      "python3"
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
      writeShellApplication = args: stubDrv args.name // { shellApplication = args; };
      writeTextDir = path: _: stubDrv (baseNameOf path);
      # The test as given (a module of the NixOS test framework).
      testers.runNixOSTest = test: stubDrv "vm-test-run-${test.name}" // { nixosTest = test; };
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
        environment.systemPackages = mkOption {
          type = types.listOf types.package;
          default = [ ];
        };
        virtualisation = {
          memorySize = mkOption { type = types.ints.positive; };
          cores = mkOption { type = types.ints.positive; };
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
                requiredBy = mkOption {
                  type = types.listOf types.str;
                  default = [ ];
                };
                before = mkOption {
                  type = types.listOf types.str;
                  default = [ ];
                };
                path = mkOption {
                  type = types.listOf types.package;
                  default = [ ];
                };
                script = mkOption {
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
      services.platform.greeter.clientSecretFile = "/run/secrets/greeter-client";
      services.platform.auth.clientsFile = "/run/secrets/auth-clients";
    }
  ];
  unit = name: all.systemd.services."platform-${name}";

  # auth elsewhere: its clients follow their `auth` peer URL; no local
  # unit to start after.
  remoteAuth = evalSystem [
    {
      services.platform.lang = {
        enable = true;
        peers.auth = "https://auth.internal:8443";
      };
    }
  ];

  # Whether an option value is refused (the module system throws on use).
  refused =
    modules: !(builtins.tryEval (builtins.deepSeq (evalSystem modules).systemd.services null)).success;

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
  inherit
    (lib.evalModules {
      modules = [
        nixosStub
        { _module.args.pkgs = { }; }
      ]
      ++ lib.mapAttrsToList moduleFor declared;
    })
    options
    ;
  optionDocs = lib.optionAttrSetToDocList options.services.platform;

  ports = lib.mapAttrsToList (_: s: s.port) declared;
  databases = lib.mapAttrsToList (_: s: s.database) declared;

  # What nix/packages.nix gives flake.nix for one system, with the same stubs
  # (it also returns what `nix run .#dev` runs).
  linuxPerSystem = import ../packages.nix {
    pkgs = stubPkgs linux;
    crane = craneStub;
    advisory-db = "/nix/store/00000000000000000000000000000000-advisory-db";
    self = outputs;
    inherit platform root;
  };

  # ---- the edge and the NixOS VM tests -------------------------------------
  edge = import ../edge.nix { inherit lib; } root;
  edgeToml = edge.source;
  vmCommon = import ./vm-common.nix {
    inherit platform platformLib edge;
    nixosModule = outputs.nixosModules.default;
  };

  # services.traefik as nixos-26.05 declares it, and as earlier releases did.
  traefikStub =
    if26_05:
    { lib, ... }:
    let
      inherit (lib) mkOption types;
      json = types.attrsOf types.anything;
    in
    {
      options.services.traefik = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
      }
      // (
        if if26_05 then
          {
            static.settings = mkOption {
              type = json;
              default = { };
            };
            dynamic.file = mkOption {
              type = types.nullOr types.path;
              default = null;
            };
          }
        else
          {
            staticConfigOptions = mkOption {
              type = json;
              default = { };
            };
            dynamicConfigFile = mkOption {
              type = types.nullOr types.path;
              default = null;
            };
          }
      );
    };

  # The VM tests' node, evaluated against the stand-ins and the real modules.
  vmNode =
    if26_05:
    (lib.evalModules {
      modules = [
        nixosStub
        (traefikStub if26_05)
        { _module.args.pkgs = stubPkgs linux; }
        vmCommon.node
      ];
    }).config;
  node = vmNode true;
  nodeBefore26_05 = vmNode false;
  nodeUnit = name: node.systemd.services."platform-${name}";

  vmPlatform = linuxChecks.vm-platform.nixosTest;
  vmRestart = linuxChecks.vm-restart.nixosTest;

  servicePorts = lib.mapAttrs (_: s: s.port) services;

  # crates/authn's tests run against services/auth (a dev-dependency), so
  # every token verifier's closure has auth in it, and through nothing else
  # for greeter and caller.
  # auth reaches a token verifier's sources only through its tests (the
  # in-process auth of auth's `testing` feature): never as a normal
  # dependency, and never through a shared crate.
  authOnlyForTests =
    lib.all (d: !((builtins.fromTOML (builtins.readFile (root + "/${d}/Cargo.toml"))).dependencies ? auth)) [
      "services/greeter"
      "services/caller"
    ]
    && lib.all (d: !(lib.elem "services/auth" (platformLib.pathDependencies root d))) (
      lib.filter (lib.hasPrefix "crates/") (platformLib.workspaceMembers root)
    );
  crateExists = dir: builtins.pathExists (root + "/${dir}/Cargo.toml");
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
      peers = [
        "caller"
        "auth"
      ];
    })
    (eq "gateway's peers" declared.gateway.peers [
      "lang"
      "auth"
    ])
    (eq "caller's and lang's peers: auth (its keys)"
      [ declared.caller.peers declared.lang.peers ]
      [
        [ "auth" ]
        [ "auth" ]
      ]
    )
    (eq "auth calls nobody" declared.auth.peers [ ])
    (eq "auth is the one token issuer" (platformLib.issuer declared).name "auth")
    (eq "every other service is a token client" (platformLib.tokenClients declared) [
      "caller"
      "gateway"
      "greeter"
      "lang"
    ])
    (check "every token client names the issuer among its peers" (
      lib.all (s: !platformLib.isTokenClient s || lib.elem "auth" s.peers) (lib.attrValues declared)
    ))
    (check "peers form no cycle (units start after their peers)" (
      let
        reaches =
          seen: name: lib.elem name seen || lib.any (reaches (seen ++ [ name ])) declared.${name}.peers;
      in
      lib.all (name: !(lib.any (reaches [ name ]) declared.${name}.peers)) (lib.attrNames declared)
    ))
    (check "enabled services are exactly those whose crate exists" (
      lib.all (
        name: (services ? ${name}) == builtins.pathExists (root + "/services/${name}/Cargo.toml")
      ) (lib.attrNames declared)
    ))
    (check "greeter and caller are present" (services ? greeter && services ? caller))
    (eq "devstack is found where its crate is" platform.devstack (
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
    # Subsets, not exact lists: the crates grow shared dependencies. auth is
    # in a token verifier's closure only as a dev-dependency (its test fixture).
    (check "greeter's crate closure: what it uses (authn too), caller (dev-dependency), no other" (
      let
        closure = platformLib.crateClosure root "services/greeter";
      in
      lib.all (d: lib.elem d closure) [
        "crates/authn"
        "crates/platform"
        "crates/proto"
        "crates/testkit"
        "services/caller"
        "services/greeter"
      ]
      && lib.all (d: !(lib.elem d closure)) [
        "services/lang"
        "services/gateway"
        "crates/devstack"
      ]
      && (lib.elem "services/auth" closure -> authOnlyForTests)
    ))
    (check "caller's crate closure: itself and shared crates only (and auth for its tests)" (
      let
        closure = platformLib.crateClosure root "services/caller";
      in
      lib.all (d: lib.elem d closure) [
        "crates/authn"
        "crates/platform"
        "crates/proto"
        "services/caller"
      ]
      && lib.all (d: lib.hasPrefix "crates/" d || d == "services/caller" || d == "services/auth") closure
      && (lib.elem "services/auth" closure -> authOnlyForTests)
    ))
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
    (eq "a token client reaches auth's keys and token endpoint by its Service name"
      (lib.getAttrs [ "AUTH_URL" "AUTH_JWKS_URL" "AUTH_TOKEN_URL" ] outputs.lib.services.lang.env)
      {
        AUTH_URL = "http://auth:8090";
        AUTH_JWKS_URL = "http://auth:8090/auth/.well-known/jwks.json";
        AUTH_TOKEN_URL = "http://auth:8090/auth/token";
      }
    )
    (check "auth reads neither (it is the issuer)" (
      !(outputs.lib.services.auth.env ? AUTH_JWKS_URL)
      && !(outputs.lib.services.auth.env ? AUTH_TOKEN_URL)
    ))
    (eq "Secrets: a client secret for each client, the clients file for auth"
      (lib.mapAttrs (_: s: [
        s.clientSecret
        s.clientsSecret
      ]) outputs.lib.services)
      (
        lib.mapAttrs (
          name: _:
          if name == "auth" then
            [
              null
              {
                name = "auth-clients";
                key = "clients";
              }
            ]
          else
            [
              {
                name = "${name}-client";
                key = "secret";
              }
              null
            ]
        ) services
      )
    )
    (eq "listen on all addresses in a pod" outputs.lib.services.caller.env.HOST "0.0.0.0")
    (eq "non-root" outputs.lib.services.caller.securityContext.runAsUser 65532)
    (eq "apps: gen-manifests, and dev once devstack exists" (lib.attrNames outputs.apps.${linux}) (
      lib.optional (platform.devstack != null) "dev" ++ [ "gen-manifests" ]
    ))
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
    (eq "linux packages: binaries, devstack, images, all images" (lib.attrNames outputs.packages.${linux}) (
      lib.sort lib.lessThan (
        lib.attrNames services
        ++ map (n: "${n}-image") (lib.attrNames services)
        ++ [ "images" ]
        ++ lib.optional (platform.devstack != null) "devstack"
      )
    ))
    (eq "darwin packages: binaries only" (lib.attrNames outputs.packages.aarch64-darwin) (
      lib.sort lib.lessThan (lib.attrNames services ++ lib.optional (platform.devstack != null) "devstack")
    ))
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
      && lib.elem "crates/authn" paths
      && !(lib.elem "README.md" paths)
      && !(lib.elem "services/lang" paths)
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
        ++ lib.optionals edge.present [
          "vm-platform"
          "vm-restart"
        ]
      )
    ))
    (eq "clippy denies warnings on all targets" linuxChecks.clippy.cargoClippyExtraArgs "--all-targets -- -D warnings")
    (check "nextest has PostgreSQL and kill(1)" (
      lib.elem "postgresql" (map (p: p.name) linuxChecks.nextest.nativeBuildInputs)
      && lib.elem "procps" (map (p: p.name) linuxChecks.nextest.nativeBuildInputs)
      && lib.hasInfix "TEST_DATABASE_URL" linuxChecks.nextest.preCheck
    ))
    (eq "nextest leaves out only the test that needs files from outside the repository"
      linuxChecks.nextest.cargoNextestExtraArgs
      (
        lib.optionalString (builtins.pathExists (root + "/crates/edge/tests/schema.rs"))
          "-E 'not binary_id(edge::schema)'"
      )
    )
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
    (check "the workspace source has what crates read besides Cargo sources" (
      let
        paths = filesetPaths linuxChecks.nextest.src;
      in
      lib.all (p: lib.elem p paths) (
        lib.optionals (crateExists "crates/edge") [
          "deploy/edge/edge.toml"
          "deploy/edge/traefik"
        ]
        ++ lib.optional (crateExists "crates/devstack") "nix/services.nix"
      )
    ))
    (check "a service's source has none of it" (
      lib.all (p: !(lib.elem p (filesetPaths greeterPkg.src))) [
        "deploy/edge/edge.toml"
        "deploy/edge/traefik"
        "nix/services.nix"
      ]
    ))
  ];

  # `nix run .#dev` and the devshell's devstack.
  apps = lib.optionals (platform.devstack != null) (
    let
      app = linuxPerSystem.devApp.shellApplication;
      devstackPkg = outputs.packages.${linux}.devstack.crane;
    in
    [
      (eq "nix run .#dev runs platform-dev" outputs.apps.${linux}.dev.program
        "/nix/store/00000000000000000000000000000000-platform-dev/bin/platform-dev"
      )
      (eq "nix run .#dev is `devstack up`" app.text ''exec devstack up "$@"'')
      (eq "on its PATH: devstack, every service, PostgreSQL, Traefik"
        (lib.sort lib.lessThan (map (p: p.name) app.runtimeInputs))
        (
          lib.sort lib.lessThan (
            lib.attrNames services
            ++ [
              "devstack"
              "postgresql"
              "traefik"
            ]
          )
        )
      )
      (check "apps on every system" (
        lib.all (sys: outputs.apps.${sys} ? dev) (lib.attrNames outputs.packages)
      ))
      (eq "devstack's package" devstackPkg.cargoExtraArgs "-p devstack")
      (check "devstack's source: the edge crate and what it reads" (
        let
          paths = filesetPaths devstackPkg.src;
        in
        lib.all (p: lib.elem p paths) [
          "crates/devstack"
          "crates/edge"
          "deploy/edge/edge.toml"
          "deploy/edge/traefik"
        ]
      ))
      (check "the devshell has devstack" (
        lib.elem "devstack" (map (p: p.name) outputs.devShells.${linux}.default.packages)
      ))
      (check "the banner names nix run .#dev" (
        lib.hasInfix "nix run .#dev" outputs.devShells.${linux}.default.shellHook
      ))
    ]
  );

  # deploy/edge/edge.toml and the Traefik files rendered from it against
  # nix/services.nix (builtins.fromJSON reads the rendered YAML: it is JSON).
  edge =
    [
      (check "every upstream in edge.toml is a declared service" (
        lib.all (u: declared ? ${u}) (lib.attrNames edgeToml.upstreams)
      ))
      (check "caller is never routed" (
        !(edgeToml.upstreams ? caller) && lib.all (r: r.upstream != "caller") edgeToml.routers
      ))
      (eq "the VM tests exist exactly when the rendered edge files do" (
        linuxChecks ? vm-platform && linuxChecks ? vm-restart
      ) edge.present)
    ]
    ++ lib.optionals edge.present [
      (eq "static.yml: the public entry point on edge.toml's port"
        edge.staticSettings.entryPoints.${edgeToml.entrypoint.name}.address
        ":${toString edgeToml.entrypoint.port}"
      )
      (check "static.yml: ping and metrics on the metrics port" (
        lib.any (ep: ep.address == ":${toString edgeToml.entrypoint.metrics_port}") (
          lib.attrValues edge.staticSettings.entryPoints
        )
        && edge.staticSettings ? ping
      ))
      (check "the static settings leave the file provider to the NixOS module" (
        !(edge.staticSettings ? providers)
      ))
      (eq "dynamic.yml: every upstream on loopback at its nix/services.nix port"
        (lib.mapAttrs (_: svc: svc.loadBalancer.servers) edge.dynamic.http.services)
        (
          lib.mapAttrs (name: upstream: [
            { url = "${upstream.scheme}://127.0.0.1:${toString declared.${name}.port}"; }
          ]) edgeToml.upstreams
        )
      )
      (eq "dynamic.yml: forward-auth asks auth at its port"
        edge.dynamic.http.middlewares.forward-auth.forwardAuth.address
        "http://127.0.0.1:${toString declared.auth.port}/auth/verify"
      )
      (eq "dynamic.yml: forward-auth-admin asks auth for the admin role"
        edge.dynamic.http.middlewares.forward-auth-admin.forwardAuth.address
        "http://127.0.0.1:${toString declared.auth.port}/auth/verify?role=admin"
      )
      (eq "dynamic.yml: each router as edge.toml has it (rule, middlewares, priority)"
        (lib.mapAttrs (_: r: {
          inherit (r) rule service;
          middlewares = r.middlewares or [ ];
          priority = r.priority or null;
        }) edge.dynamic.http.routers)
        (lib.listToAttrs (
          map (r: {
            inherit (r) name;
            value = {
              inherit (r) rule;
              service = r.upstream;
              middlewares = r.middlewares or [ ];
              priority = r.priority or null;
            };
          }) edgeToml.routers
        ))
      )
      (check "the routes kept for services are never routed (/auth/stats, /auth/token, /lang/v1/stats)" (
        lib.all (p: lib.any (r: lib.hasInfix "!Path(`${p}`)" r.rule) edgeToml.routers) [
          "/auth/stats"
          "/auth/token"
          "/lang/v1/stats"
        ]
      ))
      (eq "dynamic.yml: edge.toml's routers" (lib.attrNames edge.dynamic.http.routers) (
        lib.sort lib.lessThan (map (r: r.name) edgeToml.routers)
      ))
      (eq "dynamic.yml: the credentials' rate limit"
        edge.dynamic.http.middlewares.rate-limit-credentials.rateLimit
        edgeToml.middlewares.rate-limit-credentials.rateLimit
      )
    ];

  # The NixOS VM tests: their node (evaluated against the stand-ins, with
  # the flake's real service modules) and their scripts.
  vm = lib.optionals edge.present [
    (eq "the node runs every service present" (lib.attrNames (
      lib.filterAttrs (_: s: s.enable) node.services.platform
    )) (lib.attrNames services))
    (check "a hardened unit per service" (
      lib.all (name: (nodeUnit name).serviceConfig.DynamicUser) (lib.attrNames services)
    ))
    (eq "PostgreSQL: a database per service"
      (lib.sort lib.lessThan node.services.postgresql.ensureDatabases)
      (lib.sort lib.lessThan (lib.mapAttrsToList (_: s: s.database) services))
    )
    (eq "PostgreSQL: a role per service"
      (lib.sort lib.lessThan (map (u: u.name) node.services.postgresql.ensureUsers))
      (lib.attrNames services)
    )
    (check "Traefik on" node.services.traefik.enable)
    (eq "Traefik's static settings are deploy/edge/traefik/static.yml's"
      node.services.traefik.static.settings
      edge.staticSettings
    )
    (eq "Traefik routes by deploy/edge/traefik/dynamic.yml"
      (toString node.services.traefik.dynamic.file)
      (toString (root + "/deploy/edge/traefik/dynamic.yml"))
    )
    (check "before nixos-26.05: the same files through staticConfigOptions and dynamicConfigFile" (
      nodeBefore26_05.services.traefik.staticConfigOptions == edge.staticSettings
      && toString nodeBefore26_05.services.traefik.dynamicConfigFile == toString edge.dynamicFile
    ))
    (eq "auth trusts the proxies edge.toml names for running locally"
      (nodeUnit "auth").environment.AUTH_TRUSTED_PROXIES
      (lib.concatStringsSep "," edgeToml.trusted_proxies.local)
    )
    (eq "... which are loopback" edgeToml.trusted_proxies.local [
      "127.0.0.0/8"
      "::1/128"
    ])
    (eq "each client's secret and auth's clients file come from the VM's state, by LoadCredential="
      (lib.mapAttrs (n: _: (nodeUnit n).serviceConfig.LoadCredential) services)
      (
        lib.mapAttrs (
          n: _:
          if n == "auth" then
            [ "clients:/var/lib/platform-credentials/auth-clients" ]
          else
            [ "client-secret:/var/lib/platform-credentials/${n}.secret" ]
        ) services
      )
    )
    (check "the identities are generated in the VM before any service starts, secrets once" (
      let
        u = node.systemd.services.platform-service-credentials;
        units = map (n: "platform-${n}.service") (lib.attrNames services);
      in
      lib.all (x: lib.elem x u.requiredBy && lib.elem x u.before) units
      && u.serviceConfig.Type == "oneshot"
      && u.serviceConfig.UMask == "0077"
      && lib.hasInfix "openssl rand 32 | basenc --base64url | tr -d '=\\n'" u.script
      && lib.hasInfix ''if [ ! -s "$secret" ]'' u.script
      && lib.hasInfix "sha256sum" u.script
      && lib.hasInfix "for client in ${lib.escapeShellArgs (platformLib.tokenClients services)}; do" u.script
    ))
    (check "auth's binary is on the VM's PATH for its operator commands" (
      lib.elem "auth" (map (p: p.name) node.environment.systemPackages)
    ))
    (eq "auth's signing key comes from an environment file outside the store"
      (nodeUnit "auth").serviceConfig.EnvironmentFile
      [ "/var/lib/platform-auth-key/auth.env" ]
    )
    (check "the key is generated in the VM before auth starts, once" (
      let
        u = node.systemd.services.platform-auth-signing-key;
      in
      lib.elem "platform-auth.service" u.requiredBy
      && lib.elem "platform-auth.service" u.before
      && lib.hasInfix "openssl genpkey -algorithm ed25519" u.script
      && lib.hasInfix ''if [ ! -s "$env" ]'' u.script
    ))
    (eq "caller may reach loopback (the local target)"
      (nodeUnit "caller").environment.CALLER_ALLOWED_NETWORKS
      "127.0.0.0/8,::1/128"
    )
    (check "a local HTTP target" (
      lib.hasInfix "-m http.server 8000 --bind 127.0.0.1"
        node.systemd.services.http-target.serviceConfig.ExecStart
    ))
    (eq "test names" [ vmPlatform.name vmRestart.name ] [ "platform" "platform-restart" ])
    (check "both tests run on the one shared node" (
      vmPlatform.nodes ? machine && vmRestart.nodes ? machine
    ))
    (check "both scripts wait for every service's readiness" (
      lib.all (
        t:
        lib.hasInfix "PORTS: dict[str, int] = ${builtins.toJSON servicePorts}" t.testScript
        && lib.hasInfix "\nwait_for_platform()" t.testScript
      ) [ vmPlatform vmRestart ]
    ))
    (check "platform: every step of the access rules" (
      lib.all (step: lib.hasInfix step vmPlatform.testScript) [
        ''request("PUT", GREETING, {"template": "Hi, {name}!"}).expect(401)''
        ''request("PUT", GREETING, {"template": "Hi, {name}!"}, token=token).expect(403)''
        ''GREETING = f"{EDGE}/lang/v1/translations/en/greeting"''
        ''request("GET", f"{EDGE}/lang/v1/greeting?name=Ada&language=fr").expect(200)''
        ''auth_admin("admin", "create", "--email", ADMIN_EMAIL, password=ADMIN_PASSWORD)''
        ''ADMIN_EMAIL = "admin@vm.test"''
        ''request("PUT", GREETING, {"template": "Good day, {name}!"}, token=admin).expect(200)''
        ''request("GET", f"{EDGE}/auth/stats").expect(404)''
        ''request("POST", f"{EDGE}/auth/token"''
        ''request("GET", f"{EDGE}/lang/v1/stats").expect(404)''
      ]
      && (
        !(services ? gateway)
        || lib.all (step: lib.hasInfix step vmPlatform.testScript) [
          ''rpc("gateway.v1.GatewayService/Metrics", {}, token).expect(403)''
          ''rpc("gateway.v1.GatewayService/Metrics", {}, admin).expect(200)''
          ''stats = service_token("gateway")''
        ]
      )
    ))
    (check "the prelude runs auth's operator commands as its dynamic user on its database" (
      lib.all (step: lib.hasInfix step vmCommon.prelude) [
        ''AUTH_DATABASE_URL = "postgres://auth@localhost/auth_db?host=/run/postgresql"''
        ''"--property=DynamicUser=yes", "--property=User=auth"''
        ''env["AUTH_ADMIN_PASSWORD"] = password''
        "CLIENT_SECRETS: dict[str, str] = ${
          builtins.toJSON (
            lib.genAttrs (platformLib.tokenClients services) (n: "/var/lib/platform-credentials/${n}.secret")
          )
        }"
      ]
    ))
    (eq "the database URL in the prelude is the unit's" (nodeUnit "auth").environment.DATABASE_URL
      "postgres://auth@localhost/auth_db?host=/run/postgresql"
    )
    (check "platform: every step of the issue" (
      lib.all (step: lib.hasInfix step vmPlatform.testScript) [
        ''rpc("caller.v1.CallerService/Call", {"url": "https://example.com/"}).expect(404)''
        ''signup(EMAIL, PASSWORD)''
        ''login(EMAIL, PASSWORD)''
        ''rpc("greeter.v1.GreeterService/Greet", {"name": "Ada"}).expect(401)''
        ''f"{HTTP_TARGET}/hello.txt"''
        ''"Access-Control-Request-Method": "POST"''
        ''assert last.status == 429''
        ''systemctl stop postgresql.service''
        ''systemctl start postgresql.service''
      ]
    ))
    (eq "platform: the gateway steps exactly when gateway is present" (
      lib.hasInfix "gateway.v1.GatewayService/LocalizedGreeting" vmPlatform.testScript
      && lib.hasInfix "gateway.v1.GatewayService/Overview" vmPlatform.testScript
    ) (services ? gateway))
    (check "restart: greeter, auth, then everything; data and tokens survive" (
      lib.all (step: lib.hasInfix step vmRestart.testScript) [
        ''restart(["greeter"])''
        ''restart(["auth"])''
        ''restart(list(PORTS))''
        ''greeting_id in listed_ids''
        ''assert again["externalStatus"] == 200''
        ''assert last["externalStatus"] == 200''
      ]
    ))
  ];

  # Not checks: the scripts themselves, which nix/check.sh compiles with Python.
  testScripts = lib.optionalAttrs edge.present {
    platform = vmPlatform.testScript;
    restart = vmRestart.testScript;
  };

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
    (eq "every client verifies tokens with the local auth's keys and gets its service token there"
      (lib.genAttrs (platformLib.tokenClients declared) (
        n: lib.getAttrs [ "AUTH_JWKS_URL" "AUTH_TOKEN_URL" ] (unit n).environment
      ))
      (
        lib.genAttrs (platformLib.tokenClients declared) (_: {
          AUTH_JWKS_URL = "http://127.0.0.1:8090/auth/.well-known/jwks.json";
          AUTH_TOKEN_URL = "http://127.0.0.1:8090/auth/token";
        })
      )
    )
    (check "auth reads neither" (
      !((unit "auth").environment ? AUTH_JWKS_URL || (unit "auth").environment ? AUTH_TOKEN_URL)
    ))
    (eq "... and follow auth's peer URL when it is elsewhere"
      (lib.getAttrs [
        "AUTH_URL"
        "AUTH_JWKS_URL"
        "AUTH_TOKEN_URL"
      ] remoteAuth.systemd.services.platform-lang.environment)
      {
        AUTH_URL = "https://auth.internal:8443";
        AUTH_JWKS_URL = "https://auth.internal:8443/auth/.well-known/jwks.json";
        AUTH_TOKEN_URL = "https://auth.internal:8443/auth/token";
      }
    )
    (eq "the client secret through LoadCredential=, read from the credentials directory"
      [
        (unit "greeter").serviceConfig.LoadCredential
        (unit "greeter").environment.SERVICE_CLIENT_SECRET_FILE
      ]
      [
        [ "client-secret:/run/secrets/greeter-client" ]
        "%d/client-secret"
      ]
    )
    (eq "auth's clients file likewise"
      [
        (unit "auth").serviceConfig.LoadCredential
        (unit "auth").environment.AUTH_CLIENTS_FILE
      ]
      [
        [ "clients:/run/secrets/auth-clients" ]
        "%d/clients"
      ]
    )
    (check "without a secret file: no credential, no SERVICE_CLIENT_SECRET_FILE" (
      (unit "caller").serviceConfig.LoadCredential == [ ]
      && !((unit "caller").environment ? SERVICE_CLIENT_SECRET_FILE)
    ))
    (check "client options on the clients only, the clients file on auth only" (
      lib.all (
        n:
        (options.services.platform.${n} ? clientSecretFile) == (n != "auth")
        && (options.services.platform.${n} ? clientsFile) == (n == "auth")
      ) (lib.attrNames declared)
    ))
    (check "a secret file must be outside the store: a path literal or a store path is refused" (
      refused [
        {
          services.platform.greeter = {
            enable = true;
            clientSecretFile = ./eval.nix;
          };
        }
      ]
      && refused [
        {
          services.platform.auth = {
            enable = true;
            clientsFile = "/nix/store/00000000000000000000000000000000-clients";
          };
        }
      ]
      && refused [
        {
          services.platform.greeter = {
            enable = true;
            clientSecretFile = "relative/secret";
          };
        }
      ]
    ))
    (eq "units start after their local peers' units"
      (lib.filter (lib.hasPrefix "platform-") (unit "greeter").after)
      [
        "platform-caller.service"
        "platform-auth.service"
      ]
    )
    (check "no ordering on a peer that does not run here" (
      !(lib.any (lib.hasPrefix "platform-") remoteAuth.systemd.services.platform-lang.after)
    ))
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
    (check "each database is owned by its role, and closed to the others" (
      lib.all (
        s:
        lib.all (sql: lib.hasInfix sql all.systemd.services.postgresql-setup.postStart) [
          ''ALTER DATABASE "${s.database}" OWNER TO "${s.name}"''
          ''REVOKE ALL ON DATABASE "${s.database}" FROM PUBLIC''
        ]
      ) (lib.attrValues declared)
    ))
    (eq "no warnings" all.warnings [ ])
    (check "a password in databaseUrl warns" (lib.length remoteDb.warnings == 1))
    (check "createLocalDatabase = false leaves PostgreSQL alone" (
      !remoteDb.services.postgresql.enable && !(lib.elem "postgresql.service" remoteDb.systemd.services.platform-caller.after)
    ))
    (eq "disabled services add nothing" nothing.systemd.services { })
    # ten each, and one secret file each (clientSecretFile, or auth's clientsFile)
    (check "option docs render (${toString (lib.length optionDocs)} options)" (
      lib.length optionDocs == 11 * lib.length (lib.attrNames declared)
    ))
  ];
}
