# Evaluation tests that need only nixpkgs' `lib` (no packages, no builds):
# nix/check.sh runs them with
#
#   nix-instantiate --eval --strict nix/tests/eval.nix --arg lib 'import <nixpkgs-lib>/lib'
#
# They evaluate flake.nix's outputs function with a stub nixpkgs (just `lib`),
# the service description (services.toml), the crate closures behind the
# per-crate sources, the Kubernetes defaults, `nix run .#dev`, and the NixOS
# modules through lib.evalModules against stand-ins for the NixOS options
# they set (same types as NixOS); the edge files (deploy/edge) against
# services.toml; other descriptions than services.toml (a service more, and
# broken ones); and the NixOS VM tests: their node, with the real service
# modules, against stand-ins for the options it sets (Traefik's as
# nixos-26.05 declares them and as earlier releases did), and their scripts.
# The result is a summary; any failed check aborts with its message.
# `testScripts` is not a check: nix/check.sh compiles those scripts with
# Python.
{ lib }:
let
  root = ../..;
  platformLib = import ../lib.nix { inherit lib; };
  platform = platformLib.platform { inherit root; };
  inherit (platform) declared backend services;
  # services.toml as builtins.fromTOML reads it
  description = platformLib.readDescription root;
  issuer = platformLib.issuer declared;
  issuerPort = toString issuer.port;

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
      "cargo-audit"
      "cargo-cyclonedx"
      "cargo-deny"
      "cargo-nextest"
      "curl"
      "kind"
      "kubectl"
      "libiconv"
      "nats-server"
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
      "tilt"
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
        rust.rustcTarget =
          {
            x86_64-linux = "x86_64-unknown-linux-gnu";
            aarch64-linux = "aarch64-unknown-linux-gnu";
            x86_64-darwin = "x86_64-apple-darwin";
            aarch64-darwin = "aarch64-apple-darwin";
          }
          .${system};
      };
      rustPlatform.rustLibSrc = stubDrv "rust-lib-src";
      # The site's build: the arguments given, and importNpmLock's.
      buildNpmPackage = args: stubDrv args.pname // { npm = args; };
      importNpmLock = {
        __functor = _: args: stubDrv "npm-deps" // { npmLock = args; };
        npmConfigHook = stubDrv "npm-config-hook";
      };
      dockerTools.buildLayeredImage = args: stubDrv "image" // { imageArgs = args; };
      linkFarm = name: entries: stubDrv name // { inherit entries; };
      symlinkJoin = args: stubDrv args.name // { inherit (args) paths; };
      runCommandLocal =
        name: _: _:
        stubDrv name;
      writeShellApplication = args: stubDrv args.name // { shellApplication = args; };
      writeTextDir = path: _: stubDrv (baseNameOf path);
      # The test as given (a module of the NixOS test framework).
      testers.runNixOSTest = test: stubDrv "vm-test-run-${test.name}" // { nixosTest = test; };
    };
  craneStub.mkLib = _: {
    crateNameFromCargoToml =
      { cargoToml }:
      {
        version = (builtins.fromTOML (builtins.readFile cargoToml)).workspace.package.version;
      };
    fileset.commonCargoSources = path: { cargoSources = path; };
    buildDepsOnly = args: { depsOnly = args; };
    buildPackage = args: stubDrv args.pname // { crane = args; };
    mkCargoDerivation = args: stubDrv args.pname // { crane = args; };
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
  # every system's packages but the images
  nonImagePackages =
    lib.attrNames services
    ++ map (n: "${n}-sbom") (lib.attrNames services)
    ++ [
      "probe"
      "sboms"
      "site"
    ]
    ++ lib.optional (platform.devstack != null) "devstack";
  linuxChecks = outputs.checks.${linux};
  # the web services whose crate is present: Nix builds and images them
  builtWeb = lib.filter (
    n: builtins.pathExists (root + "/${platform.webServices.${n}.crateDir}/Cargo.toml")
  ) (lib.attrNames platform.webServices);
  imaged = lib.sort lib.lessThan (lib.attrNames services ++ builtWeb);
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

  workspaceVersion =
    (builtins.fromTOML (builtins.readFile (root + "/Cargo.toml"))).workspace.package.version;

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
        # nixos/modules/services/networking/nats.nix: the options the
        # modules set (settings is pkgs.formats.json's type there).
        services.nats = {
          enable = mkOption {
            type = types.bool;
            default = false;
          };
          jetstream = mkOption {
            type = types.bool;
            default = false;
          };
          port = mkOption {
            type = types.port;
            default = 4222;
          };
          dataDir = mkOption {
            type = types.path;
            default = "/var/lib/nats";
          };
          settings = mkOption {
            type = types.attrsOf types.anything;
            default = { };
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

  # Every backend service (web services get theirs in part 2, issue 21), as
  # the flake would build its module once its crate exists.
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
      ++ lib.mapAttrsToList moduleFor backend
      ++ modules;
    }).config;

  all = evalSystem [
    { services.platform = lib.mapAttrs (_: _: { enable = true; }) backend; }
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

  # The services that use events, by their crates (nix/lib.nix `usesEvents`).
  eventServices = lib.attrNames (lib.filterAttrs (_: s: s.usesEvents) backend);
  # An external broker: no local NATS, the services pointed at it.
  remoteBroker = evalSystem [
    { services.platform = lib.mapAttrs (_: _: { enable = true; }) backend; }
    {
      services.platform.broker = {
        local = false;
        url = "nats://nats.internal:4222";
      };
    }
  ];
  # Only caller, which uses no events: no broker at all.
  callerOnly = evalSystem [ { services.platform.caller.enable = true; } ];

  # What the NixOS manual renders: every option's description and default.
  inherit
    (lib.evalModules {
      modules = [
        nixosStub
        { _module.args.pkgs = { }; }
      ]
      ++ lib.mapAttrsToList moduleFor backend;
    })
    options
    ;
  optionDocs = lib.optionAttrSetToDocList options.services.platform;

  ports = lib.mapAttrsToList (_: s: s.port) backend;
  databases = lib.mapAttrsToList (_: s: s.database) backend;

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
      # What each module sets on the unit (26.05: a 1 s watchdog).
      config.systemd.services.traefik.serviceConfig =
        if if26_05 then
          {
            Type = "notify";
            WatchdogSec = "1s";
            Restart = "always";
          }
        else
          {
            Type = "simple";
            Restart = "on-failure";
          };
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
    lib.all
      (d: !((builtins.fromTOML (builtins.readFile (root + "/${d}/Cargo.toml"))).dependencies ? auth))
      [
        "services/greeter"
        "services/caller"
      ]
    && lib.all (d: !(lib.elem "services/auth" (platformLib.pathDependencies root d))) (
      lib.filter (lib.hasPrefix "crates/") (platformLib.workspaceMembers root)
    );
  crateExists = dir: builtins.pathExists (root + "/${dir}/Cargo.toml");

  # ---- other descriptions ----------------------------------------------------
  # services.toml with a service more (no crate: declared, not present).
  demoPort = 8095;
  demo = platformLib.platform {
    inherit root;
    description = description // {
      demo = {
        port = demoPort;
        kind = "grpc";
        peers = [
          "greeter"
          issuer.name
        ];
      };
    };
  };
  demoSystem =
    (lib.evalModules {
      modules = [
        nixosStub
        { _module.args.pkgs = { }; }
        { services.platform = lib.mapAttrs (_: _: { enable = true; }) demo.backend; }
      ]
      ++ lib.mapAttrsToList (
        name: entry:
        import ../module.nix {
          inherit name entry;
          inherit (demo) declared;
          packageFor = _: stubPackage name;
        }
      ) demo.backend;
    }).config;
  demoUnit = demoSystem.systemd.services.platform-demo;
  # Kubernetes: every backend service deployed (the crates' version aside).
  demoK8sServices = lib.mapAttrs (
    _: entry:
    platformLib.k8sDefaults {
      inherit (demo) declared;
      inherit entry;
      version = workspaceVersion;
    }
  ) demo.backend;
  demoK8s = import ./k8s-modules.nix { inherit lib; } {
    platformSource = {
      services = demoK8sServices;
      inherit (demo) declared;
      edge = edgeToml;
      images = builtins.fromTOML (builtins.readFile (root + "/deploy/images.toml"));
    };
  };
  # Who a service's NetworkPolicy admits from the platform's own pods.
  admittedBy =
    name:
    let
      inherit (demoK8s.applications.${name}.resources.networkPolicies.${name}.spec) ingress;
      platformPods = rule: lib.filter (from: !(from ? namespaceSelector)) (rule.from or [ ]);
    in
    lib.concatMap (
      rule: map (from: from.podSelector.matchLabels."app.kubernetes.io/name") (platformPods rule)
    ) ingress;

  # services.toml changed by `change`: its problems, and whether using it throws.
  broken =
    change:
    let
      changed = lib.recursiveUpdate description change;
    in
    {
      problems = platformLib.problems changed;
      throws =
        !(builtins.tryEval (
          builtins.deepSeq
            (platformLib.platform {
              inherit root;
              description = changed;
            }).declared
            null
        )).success;
    };
  refusedWith =
    message: change:
    let
      b = broken change;
    in
    b.throws && lib.any (lib.hasInfix message) b.problems;

  # services.toml with two web services more (`site`, `site2`; it may have
  # one already), edge.toml and dynamic.yml with a router to `site` (as
  # crates/edge would render it), and the edge and VM node made of them.
  # Nix deploys no web service yet, nor routes to one (part 2, issue 21).
  siteTable = port: {
    inherit port;
    kind = "web";
    replicas = 2;
    description = "serves a built front end";
  };
  withSites = description // {
    site = siteTable 8096;
    site2 = siteTable 8097;
  };
  sites = platformLib.platform {
    inherit root;
    description = withSites;
  };
  siteRouter = {
    name = "site";
    rule = "PathPrefix(`/`)";
    upstream = "site";
    middlewares = [ "rate-limit" ];
    priority = 1;
  };
  committedEdgeToml = builtins.fromTOML (builtins.readFile (root + "/deploy/edge/edge.toml"));
  edgeTomlWithSite = committedEdgeToml // {
    routers = committedEdgeToml.routers ++ [ siteRouter ];
  };
  committedDynamicFile = root + "/deploy/edge/traefik/dynamic.yml";
  committedDynamic = builtins.fromJSON (builtins.readFile committedDynamicFile);
  dynamicWithSite = lib.recursiveUpdate committedDynamic {
    http.routers.site = {
      entryPoints = [ edgeToml.entrypoint.name ];
      inherit (siteRouter) rule middlewares priority;
      service = "site";
    };
    http.services.site.loadBalancer.servers = [ { url = "http://127.0.0.1:8096"; } ];
  };
  siteEdge = import ../edge.nix {
    inherit lib;
    description = withSites;
    edgeToml = edgeTomlWithSite;
    dynamicYml = dynamicWithSite;
  } root;
  siteNode =
    (lib.evalModules {
      modules = [
        nixosStub
        (traefikStub true)
        { _module.args.pkgs = stubPkgs linux; }
        (import ./vm-common.nix {
          platform = sites;
          inherit platformLib;
          edge = siteEdge;
          nixosModule = outputs.nixosModules.default;
        }).node
      ];
    }).config;
  # Whether the committed dynamic.yml routes to a web service of services.toml.
  committedRoutesToWeb = lib.any (r: platform.webServices ? ${r.service}) (
    lib.attrValues committedDynamic.http.routers
  );
in
{
  description = [
    (eq "the declared services are services.toml's tables" (lib.attrNames declared) (
      lib.attrNames description
    ))
    (check "among them the platform's five" (
      lib.all (n: declared ? ${n}) [
        "auth"
        "caller"
        "gateway"
        "greeter"
        "lang"
      ]
    ))
    (eq "normalize keeps services.toml's values, token_issuer as tokenIssuer"
      (lib.mapAttrs (
        _: s:
        lib.getAttrs [
          "port"
          "kind"
          "database"
          "peers"
          "tokenIssuer"
          "replicas"
          "resources"
          "description"
        ] s
      ) declared)
      (
        lib.mapAttrs (_: t: {
          inherit (t)
            port
            kind
            replicas
            resources
            description
            ;
          database = t.database or null;
          peers = t.peers or [ ];
          tokenIssuer = t.token_issuer or false;
        }) description
      )
    )
    (check "ports are unique" (lib.length (lib.unique ports) == lib.length ports))
    (check "databases are unique" (lib.length (lib.unique databases) == lib.length databases))
    (check "every peer is declared" (
      lib.all (s: lib.all (p: declared ? ${p}) s.peers) (lib.attrValues declared)
    ))
    (check "kinds are grpc, rest or web" (
      lib.all (
        s:
        lib.elem s.kind [
          "grpc"
          "rest"
          "web"
        ]
      ) (lib.attrValues declared)
    ))
    (check "every kind but web has a database, web none" (
      lib.all (s: (s.database == null) == (s.kind == "web")) (lib.attrValues declared)
    ))
    (eq "the backend services are the declared ones but the web ones (deployed in part 2, issue 21)"
      (lib.attrNames backend)
      (lib.attrNames (lib.filterAttrs (_: s: s.kind != "web") declared))
    )
    (check "every service has production replicas, and requests and limits of CPU and memory" (
      lib.all (
        s:
        s.replicas >= 1
        && lib.all (r: r ? cpu && r ? memory) [
          s.resources.requests
          s.resources.limits
        ]
      ) (lib.attrValues declared)
    ))
    (eq "the token issuer is the one table with token_issuer = true" [ issuer.name ] (
      lib.attrNames (lib.filterAttrs (_: t: t.token_issuer or false) description)
    ))
    (eq "every other service but a web one is a token client" (platformLib.tokenClients declared) (
      lib.remove issuer.name (lib.attrNames backend)
    ))
    (check "every token client names the issuer among its peers" (
      lib.all (s: !platformLib.isTokenClient s || lib.elem issuer.name s.peers) (lib.attrValues declared)
    ))
    (check "peers form no cycle (units start after their peers)" (
      let
        reaches =
          seen: name: lib.elem name seen || lib.any (reaches (seen ++ [ name ])) declared.${name}.peers;
      in
      lib.all (name: !(lib.any (reaches [ name ]) declared.${name}.peers)) (lib.attrNames declared)
    ))
    (check "enabled services are exactly the backend ones whose crate exists" (
      lib.all (
        name:
        (services ? ${name})
        == (backend ? ${name} && builtins.pathExists (root + "/services/${name}/Cargo.toml"))
      ) (lib.attrNames declared)
    ))
    (check "greeter and caller are present" (services ? greeter && services ? caller))
    (check "Nix images but deploys no web service yet (issue 21)" (
      lib.all (
        n:
        !(services ? ${n})
        && !(outputs.packages.${linux} ? ${n})
        && !(outputs.nixosModules ? ${n})
        && !(outputs.lib.services ? ${n})
      ) (lib.attrNames platform.webServices)
    ))
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
    (eq "path normalisation" (platformLib.normalizePath "services/greeter/../caller/./src//x")
      "services/caller/src/x"
    )
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
        "crates/rpc"
        "crates/rpc-testkit"
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
        "crates/rpc"
        "services/caller"
      ]
      && lib.all (d: lib.hasPrefix "crates/" d || d == "services/caller" || d == "services/auth") closure
      && (lib.elem "services/auth" closure -> authOnlyForTests)
    ))
    (check "every service's closure is made of workspace members" (
      lib.all (
        s:
        lib.all (d: lib.elem d (platformLib.workspaceMembers root)) (
          platformLib.crateClosure root s.crateDir
        )
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
      "http://caller:${toString declared.caller.port}"
    )
    (eq "a token client reaches the issuer's keys and token endpoint by its Service name"
      (lib.getAttrs [ "AUTH_URL" "AUTH_JWKS_URL" "AUTH_TOKEN_URL" ] outputs.lib.services.lang.env)
      {
        AUTH_URL = "http://${issuer.name}:${issuerPort}";
        AUTH_JWKS_URL = "http://${issuer.name}:${issuerPort}/auth/.well-known/jwks.json";
        AUTH_TOKEN_URL = "http://${issuer.name}:${issuerPort}/auth/token";
      }
    )
    (check "the issuer reads neither" (
      !(outputs.lib.services.${issuer.name}.env ? AUTH_JWKS_URL)
      && !(outputs.lib.services.${issuer.name}.env ? AUTH_TOKEN_URL)
    ))
    (eq "Secrets: a client secret for each client, the clients file for the issuer"
      (lib.mapAttrs (_: s: [
        s.clientSecret
        s.clientsSecret
      ]) outputs.lib.services)
      (
        lib.mapAttrs (
          name: _:
          if name == issuer.name then
            [
              null
              {
                name = "${issuer.name}-clients";
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
    # Evaluating the app must not build (or IFD) an activation package: the
    # script builds each when it runs. A reference to one would hit the throw.
    (check "gen-manifests builds the activation packages when it runs, not when evaluated" (
      let
        app =
          (import ../k8s {
            inherit lib;
            root = ../..;
          }).genManifests
            {
              pkgs = stubPkgs linux;
              system = linux;
              nixidyEnvs.dev = {
                activationPackage = throw "the activation package was needed to evaluate gen-manifests";
                config.nixidy.target.rootPath = "./deploy/k8s/manifests/dev";
              };
            };
      in
      lib.hasInfix "nix build --no-link --print-out-paths '.#nixidyEnvs.x86_64-linux.dev.activationPackage'" app.shellApplication.text
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
    (eq "both linux systems' packages: binaries, probe, SBOMs, devstack, images, all images"
      (map (system: lib.attrNames outputs.packages.${system}) [
        "x86_64-linux"
        "aarch64-linux"
      ])
      (
        lib.replicate 2 (
          lib.sort lib.lessThan (nonImagePackages ++ map (n: "${n}-image") imaged ++ [ "images" ])
        )
      )
    )
    (eq "darwin packages: binaries, probe and SBOMs" (lib.attrNames outputs.packages.aarch64-darwin) (
      lib.sort lib.lessThan nonImagePackages
    ))
    (eq "one image archive per service, on both linux systems" (map
      (system: map (e: e.name) outputs.packages.${system}.images.entries)
      [
        "x86_64-linux"
        "aarch64-linux"
      ]
    ) (lib.replicate 2 (map (n: "${n}.tar.gz") imaged)))
    (eq "each system's images are built by its own packages (native builds)"
      outputs.packages.aarch64-linux.greeter-image.imageArgs.config.Entrypoint
      [ "/nix/store/00000000000000000000000000000000-greeter/bin/greeter" ]
    )
    (eq "an SBOM per service, for the system's own target"
      (lib.mapAttrs (_: p: p.crane.buildPhaseCargoCommand) {
        inherit (outputs.packages.x86_64-linux) greeter-sbom;
        aarch64 = outputs.packages.aarch64-linux.greeter-sbom;
      })
      {
        greeter-sbom = ''
          cargo cyclonedx --manifest-path services/greeter/Cargo.toml \
            --format json --spec-version 1.5 --target x86_64-unknown-linux-gnu
        '';
        aarch64 = ''
          cargo cyclonedx --manifest-path services/greeter/Cargo.toml \
            --format json --spec-version 1.5 --target aarch64-unknown-linux-gnu
        '';
      }
    )
    (check "the SBOM is made from the service's own source, with cargo-cyclonedx" (
      let
        sbom = outputs.packages.${linux}.greeter-sbom.crane;
      in
      sbom.src == greeterPkg.src
      && map (p: p.name) sbom.nativeBuildInputs == [ "cargo-cyclonedx" ]
      && lib.hasInfix "$out/share/sbom/greeter.cdx.json" sbom.installPhaseCommand
    ))
    (eq "all SBOMs" outputs.packages.${linux}.sboms.paths (
      lib.attrValues (lib.filterAttrs (n: _: lib.hasSuffix "-sbom" n) outputs.packages.${linux})
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
    (check "audit's source adds .cargo/audit.toml (the ignored advisory)" (
      lib.elem ".cargo/audit.toml" (filesetPaths linuxChecks.audit.src)
    ))
    (check "the workspace source keeps rustfmt.toml" (
      lib.elem "rustfmt.toml" (filesetPaths linuxChecks.fmt.src)
    ))
    (eq "image tag" greeterImage.tag workspaceVersion)
    (eq "image user" greeterImage.config.User "65532:65532")
    (eq "image port" greeterImage.config.ExposedPorts {
      "${toString declared.greeter.port}/tcp" = { };
    })
    (eq "image revision label (dirty tree)"
      greeterImage.config.Labels."org.opencontainers.image.revision"
      "dirty"
    )
    (eq "image version label" greeterImage.config.Labels."org.opencontainers.image.version"
      workspaceVersion
    )
    (eq "image contents: CA certificates, tzdata, the probe, the SBOM"
      (map (p: p.name) greeterImage.contents)
      [
        "cacert"
        "tzdata"
        "probe"
        "greeter-sbom"
      ]
    )
    (eq "image SBOM label: where the image holds it" greeterImage.config.Labels."dev.platform.sbom"
      "/share/sbom/greeter.cdx.json"
    )
    (eq "image health check: the probe on /readyz" greeterImage.config.Healthcheck.Test [
      "CMD"
      "/bin/probe"
      "http://127.0.0.1:${toString declared.greeter.port}/readyz"
    ])
    (eq "the probe is a crate of its own" outputs.packages.${linux}.probe.crane.cargoExtraArgs
      "-p probe"
    )
    (check "crates/compose's source holds the committed deploy/compose" (
      lib.elem "deploy/compose" (filesetPaths linuxChecks.nextest.src)
    ))
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
    (eq "clippy denies warnings on all targets" linuxChecks.clippy.cargoClippyExtraArgs
      "--all-targets -- -D warnings"
    )
    (check "nextest has PostgreSQL and kill(1)" (
      lib.elem "postgresql" (map (p: p.name) linuxChecks.nextest.nativeBuildInputs)
      && lib.elem "procps" (map (p: p.name) linuxChecks.nextest.nativeBuildInputs)
      && lib.hasInfix "TEST_DATABASE_URL" linuxChecks.nextest.preCheck
    ))
    (eq "nextest leaves out only the tests that need files from outside the repository"
      linuxChecks.nextest.cargoNextestExtraArgs
      "-E 'not binary_id(edge::schema) and not binary_id(compose::schema) and not binary_id(xtask::schema)'"
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
        "python3"
        "curl"
        "kubectl"
        "kind"
        "tilt"
        "nats-server"
        "openssl"
        "cargo-audit"
        "cargo-deny"
        "cargo-cyclonedx"
      ]
    ))
    # Entering the shell must build nothing of this workspace: no package
    # crane builds (buildPackage's stand-in records its arguments as `crane`).
    (check "the devshell builds no workspace crate" (
      !(lib.any (p: p ? crane) outputs.devShells.${linux}.default.packages)
    ))
    (check "devshell banner" (
      lib.hasInfix "nix flake check" outputs.devShells.aarch64-darwin.default.shellHook
    ))
    (check "the workspace source has what crates read besides Cargo sources" (
      let
        paths = filesetPaths linuxChecks.nextest.src;
      in
      lib.all (p: lib.elem p paths) (
        lib.optionals (crateExists "crates/catalog") [
          "services.toml"
          "deploy/edge/edge.toml"
        ]
        ++ lib.optional (crateExists "crates/edge") "deploy/edge/traefik"
      )
    ))
    (check "a service's source has the descriptions only through catalog, the edge's renders never" (
      let
        closure = platformLib.crateClosure root "services/greeter";
        paths = filesetPaths greeterPkg.src;
        through = crate: files: lib.all (p: lib.elem p paths == lib.elem crate closure) files;
      in
      through "crates/catalog" [
        "services.toml"
        "deploy/edge/edge.toml"
      ]
      && through "crates/edge" [ "deploy/edge/traefik" ]
    ))
    (check
      "every .proto file under proto/ is in the sources, at any depth (crates/proto/build.rs finds them)"
      (
        let
          # the recorded fileFilter over proto/ (see stubPkgs' lib.fileset)
          protoFilter = lib.findFirst (set: set ? filter) null greeterPkg.src.fileset.unions;
        in
        protoFilter != null && toString protoFilter.filter == toString (root + "/proto")
      )
    )
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
      (eq "on its PATH: devstack, every service (web too), PostgreSQL, Traefik"
        (lib.sort lib.lessThan (map (p: p.name) app.runtimeInputs))
        (
          lib.sort lib.lessThan (
            lib.attrNames services
            ++ lib.attrNames platform.webServices
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
      (check "devstack's source: the edge and catalog crates and what they read" (
        let
          paths = filesetPaths devstackPkg.src;
          devstackClosure = platformLib.crateClosure root "crates/devstack";
        in
        lib.all (p: lib.elem p paths) (
          [
            "crates/devstack"
            "crates/edge"
            "deploy/edge/traefik"
          ]
          ++ lib.optionals (lib.elem "crates/catalog" devstackClosure) [
            "crates/catalog"
            "services.toml"
            "deploy/edge/edge.toml"
          ]
        )
      ))
      (check "the devshell leaves devstack to cargo" (
        !(lib.elem "devstack" (map (p: p.name) outputs.devShells.${linux}.default.packages))
      ))
      (check "the banner names nix run .#dev" (
        lib.hasInfix "nix run .#dev" outputs.devShells.${linux}.default.shellHook
      ))
    ]
  );

  # The web front end (nix/site.nix) and the web services' images.
  site =
    let
      siteArgs = outputs.packages.${linux}.site.npm;
      webSrc = root + "/web";
      selected = map (p: p.maybe or p) siteArgs.src.fileset.unions;
      webImage = outputs.packages.${linux}.web-image.imageArgs.config;
    in
    [
      (eq "the site's dependencies come from the committed lock (importNpmLock of the web source)"
        siteArgs.npmDeps.npmLock
        { npmRoot = siteArgs.src; }
      )
      (eq "the site's source is rooted at web/" siteArgs.src.root webSrc)
      (check "the site installs its dependencies with importNpmLock's config hook" (
        (siteArgs.npmConfigHook.name or null) == "npm-config-hook"
      ))
      (eq "the site is built by `npm run build`" siteArgs.npmBuildScript "build")
      # importNpmLock fetches what `resolved` names, checked by `integrity`; an
      # entry without them (npm's omit-lockfile-registry-resolved) would send
      # npm to the network inside the build. web/.npmrc keeps them written.
      (check "every package in web/package-lock.json has an https `resolved` and an `integrity`" (
        lib.all (m: lib.hasPrefix "https://" (m.resolved or "") && (m.integrity or "") != "") (
          lib.attrValues (
            removeAttrs (builtins.fromJSON (builtins.readFile (webSrc + "/package-lock.json"))).packages [ "" ]
          )
        )
      ))
      (check "the site's source has package.json, package-lock.json and src/" (
        lib.all (f: lib.elem (webSrc + "/${f}") selected) [
          "package.json"
          "package-lock.json"
          "src"
        ]
      ))
      (check "the site's source has no node_modules, dist, e2e/dist, screenshots or test-results" (
        lib.all (f: !(lib.elem (webSrc + "/${f}") selected)) [
          "node_modules"
          "dist"
          "e2e"
          "e2e/dist"
          "screenshots"
          "test-results"
        ]
        && lib.all (p: !(lib.hasInfix "node_modules" (toString p))) selected
      ))
      (eq "the site has the workspace's version" siteArgs.version
        (builtins.fromTOML (builtins.readFile (root + "/Cargo.toml"))).workspace.package.version
      )
    ]
    ++ lib.optionals (lib.elem "web" builtWeb) [
      (eq "the web image runs the web server" webImage.Entrypoint [
        "/nix/store/00000000000000000000000000000000-web/bin/web"
      ])
      (check "the web image serves the site at /srv/web (WEB_DIST) on all interfaces" (
        lib.elem "WEB_DIST=/srv/web" webImage.Env && lib.elem "HOST=0.0.0.0" webImage.Env
      ))
      (eq "the web image exposes its port from services.toml" webImage.ExposedPorts {
        "${toString platform.webServices.web.port}/tcp" = { };
      })
      (eq "the web image's health check is probe on /readyz" webImage.Healthcheck.Test [
        "CMD"
        "/bin/probe"
        "http://127.0.0.1:${toString platform.webServices.web.port}/readyz"
      ])
      (eq "the web image runs as the services' fixed user" webImage.User
        "${toString platformLib.uid}:${toString platformLib.uid}"
      )
    ];

  # deploy/edge/edge.toml and the Traefik files rendered from it against
  # services.toml (builtins.fromJSON reads the rendered YAML: it is JSON).
  # The upstreams are the routers' (edge.upstreams), schemes by kind.
  edge = [
    (check "every router's upstream is a declared service" (
      lib.all (r: declared ? ${r.upstream}) committedEdgeToml.routers
    ))
    (eq "the edge leaves out exactly the routers to a web service (deployed in part 2, issue 21)"
      (map (r: r.name) edgeToml.routers)
      (
        map (r: r.name) (lib.filter (r: !(platform.webServices ? ${r.upstream})) committedEdgeToml.routers)
      )
    )
    (eq "... a router to one more web service too" (map (r: r.name) siteEdge.source.routers) (
      map (r: r.name) edgeToml.routers
    ))
    (eq "the upstreams: the routers' distinct upstreams" (lib.attrNames edge.upstreams) (
      lib.sort lib.lessThan (lib.unique (map (r: r.upstream) edgeToml.routers))
    ))
    (eq "an upstream's scheme is h2c for a grpc service, http for a rest one"
      (lib.mapAttrs (_: u: u.scheme) edge.upstreams)
      (lib.mapAttrs (n: _: if declared.${n}.kind == "grpc" then "h2c" else "http") edge.upstreams)
    )
    (check "edge.toml's former [upstreams] table is ignored" (
      let
        withStale = edgeToml // {
          upstreams.nope.scheme = "h2c";
        };
      in
      platformLib.edgeUpstreams declared withStale == edge.upstreams
    ))
    (check "a router naming no service throws" (
      !(builtins.tryEval (
        builtins.deepSeq (platformLib.edgeUpstreams declared {
          routers = [
            {
              name = "x";
              upstream = "nope";
            }
          ];
        }) null
      )).success
    ))
    (check "caller is never routed" (
      !(edge.upstreams ? caller) && lib.all (r: r.upstream != "caller") committedEdgeToml.routers
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
    (eq "dynamic.yml: every upstream on loopback at its services.toml port, by its kind's scheme"
      (lib.mapAttrs (_: svc: svc.loadBalancer.servers) edge.dynamic.http.services)
      (
        lib.mapAttrs (name: upstream: [
          { url = "${upstream.scheme}://127.0.0.1:${toString declared.${name}.port}"; }
        ]) edge.upstreams
      )
    )
    (eq "dynamic.yml: forward-auth asks the issuer at its port"
      edge.dynamic.http.middlewares.forward-auth.forwardAuth.address
      "http://127.0.0.1:${issuerPort}/auth/verify"
    )
    (eq "dynamic.yml: forward-auth-admin asks the issuer for the admin role"
      edge.dynamic.http.middlewares.forward-auth-admin.forwardAuth.address
      "http://127.0.0.1:${issuerPort}/auth/verify?role=admin"
    )
    (eq "dynamic.yml: each router as edge.toml has it (rule, middlewares, priority)"
      (lib.mapAttrs (_: r: {
        inherit (r) rule service;
        middlewares = r.middlewares or [ ];
        priority = r.priority or null;
      }) edge.dynamic.http.routers)
      (
        lib.listToAttrs (
          map (r: {
            inherit (r) name;
            value = {
              inherit (r) rule;
              service = r.upstream;
              middlewares = r.middlewares or [ ];
              priority = r.priority or null;
            };
          }) edgeToml.routers
        )
      )
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
    (eq "dynamic.yml without the routers to a web service, and their services" siteEdge.dynamic
      edge.dynamic
    )
    (check "... which Traefik reads from the store; the committed file itself when none was left out" (
      toString siteEdge.dynamicFile != toString committedDynamicFile
      && lib.hasSuffix "-dynamic.yml" (toString siteEdge.dynamicFile)
      && (toString edge.dynamicFile == toString committedDynamicFile) == !committedRoutesToWeb
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
      lib.filterAttrs (_: s: s.enable or false) node.services.platform
    )) (lib.attrNames services))
    (check "a hardened unit per service" (
      lib.all (name: (nodeUnit name).serviceConfig.DynamicUser) (lib.attrNames services)
    ))
    (eq "PostgreSQL: a database per service"
      (lib.sort lib.lessThan node.services.postgresql.ensureDatabases)
      (lib.sort lib.lessThan (lib.mapAttrsToList (_: s: s.database) services))
    )
    (eq "PostgreSQL: a role per service" (lib.sort lib.lessThan (
      map (u: u.name) node.services.postgresql.ensureUsers
    )) (lib.attrNames services))
    (check "NATS with JetStream on loopback, for the services that use events" (
      node.services.nats.enable
      && node.services.nats.jetstream
      && node.services.nats.settings.host == "127.0.0.1"
      && lib.all (
        n: (nodeUnit n).environment.NATS_URL == "nats://127.0.0.1:${toString node.services.nats.port}"
      ) (lib.attrNames (lib.filterAttrs (_: s: s.usesEvents) services))
    ))
    (eq "... its monitoring endpoint on loopback, at the port the scripts use"
      node.services.nats.settings.http
      "127.0.0.1:8222"
    )
    (check
      "both scripts wait for NATS, and the platform test sees events flow and ride out a broker outage"
      (
        lib.all (step: lib.hasInfix step vmCommon.prelude) [
          ''machine.wait_for_unit("nats.service")''
          "machine.wait_for_open_port(NATS_PORT"
          ''NATS_MONITOR = "http://127.0.0.1:8222"''
          "NATS_PORT = ${toString node.services.nats.port}"
        ]
        && lib.all (step: lib.hasInfix step vmPlatform.testScript) [
          ''metric("outbox_published_total", "auth")''
          ''"platform-auth"''
          "systemctl stop nats.service"
          "systemctl start nats.service"
        ]
        && (
          !(services ? gateway) || lib.hasInfix "gateway's Overview counts the user" vmPlatform.testScript
        )
      )
    )
    (check "Traefik on" node.services.traefik.enable)
    (eq "Traefik's static settings are deploy/edge/traefik/static.yml's"
      node.services.traefik.static.settings
      edge.staticSettings
    )
    (eq "Traefik routes by deploy/edge/traefik/dynamic.yml (but the routes to web services)"
      (toString node.services.traefik.dynamic.file)
      (toString edge.dynamicFile)
    )
    (eq "with a router to a web service: the same services, and the routes but that one"
      {
        services = lib.attrNames (lib.filterAttrs (_: s: s.enable or false) siteNode.services.platform);
        dynamic = toString siteNode.services.traefik.dynamic.file;
        clients = siteNode.systemd.services.platform-service-credentials.requiredBy;
      }
      {
        services = lib.attrNames services;
        dynamic = toString siteEdge.dynamicFile;
        clients = node.systemd.services.platform-service-credentials.requiredBy;
      }
    )
    (eq "Traefik's watchdog is 30 s, not the module's 1 s"
      node.systemd.services.traefik.serviceConfig.WatchdogSec
      "30s"
    )
    (check "before nixos-26.05 (no watchdog there) none is added" (
      !(nodeBefore26_05.systemd.services.traefik.serviceConfig ? WatchdogSec)
    ))
    (check "before nixos-26.05: the same files through staticConfigOptions and dynamicConfigFile" (
      nodeBefore26_05.services.traefik.staticConfigOptions == edge.staticSettings
      && toString nodeBefore26_05.services.traefik.dynamicConfigFile == toString edge.dynamicFile
    ))
    (eq "the issuer trusts the proxies edge.toml names for running locally"
      (nodeUnit issuer.name).environment.AUTH_TRUSTED_PROXIES
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
          if n == issuer.name then
            [ "clients:/var/lib/platform-credentials/${issuer.name}-clients" ]
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
      lib.hasInfix "-m http.server 8000 --bind 127.0.0.1" node.systemd.services.http-target.serviceConfig.ExecStart
    ))
    (eq "test names" [ vmPlatform.name vmRestart.name ] [ "platform" "platform-restart" ])
    (check "both tests run on the one shared node" (
      vmPlatform.nodes ? machine && vmRestart.nodes ? machine
    ))
    (check "both scripts wait for every service's readiness" (
      lib.all
        (
          t:
          lib.hasInfix "PORTS: dict[str, int] = ${builtins.toJSON servicePorts}" t.testScript
          && lib.hasInfix "\nwait_for_platform()" t.testScript
        )
        [
          vmPlatform
          vmRestart
        ]
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
        "signup(EMAIL, PASSWORD)"
        "login(EMAIL, PASSWORD)"
        ''rpc("greeter.v1.GreeterService/Greet", {"name": "Ada"}).expect(401)''
        ''f"{HTTP_TARGET}/hello.txt"''
        ''"Access-Control-Request-Method": "POST"''
        "assert last.status == 429"
        "systemctl stop postgresql.service"
        "systemctl start postgresql.service"
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
        "restart(list(PORTS))"
        "greeting_id in listed_ids"
        ''assert again["externalStatus"] == 200''
        ''assert last["externalStatus"] == 200''
      ]
    ))
  ];

  # Other descriptions than services.toml: a service more is a table more,
  # and a broken one is refused, naming services.toml and the service.
  descriptions = [
    (eq "a service more: declared with the defaults filled in, not present without its crate"
      [
        (lib.getAttrs [
          "port"
          "database"
          "kind"
          "peers"
          "tokenIssuer"
          "replicas"
        ] demo.declared.demo)
        (demo.services ? demo)
      ]
      [
        {
          port = demoPort;
          database = "demo_db";
          kind = "grpc";
          peers = [
            "greeter"
            issuer.name
          ];
          tokenIssuer = false;
          replicas = 1;
        }
        false
      ]
    )
    (eq "its NixOS module: a unit on its port, reaching its peers, after their units"
      {
        inherit (demoUnit.environment) PORT GREETER_URL AUTH_JWKS_URL;
        after = lib.filter (lib.hasPrefix "platform-") demoUnit.after;
      }
      {
        PORT = toString demoPort;
        GREETER_URL = "http://127.0.0.1:${toString declared.greeter.port}";
        AUTH_JWKS_URL = "http://127.0.0.1:${issuerPort}/auth/.well-known/jwks.json";
        after = [
          "platform-greeter.service"
          "platform-${issuer.name}.service"
        ];
      }
    )
    (check "... its own database and role, and a client identity at the issuer" (
      lib.elem "demo_db" demoSystem.services.postgresql.ensureDatabases
      && lib.elem "demo" (map (u: u.name) demoSystem.services.postgresql.ensureUsers)
      && demoUnit.serviceConfig.User == "demo"
      && demoUnit.environment ? AUTH_TOKEN_URL
    ))
    (eq "its Kubernetes defaults: its port, peers by Service name, a client Secret, 1 replica"
      (
        lib.getAttrs [ "replicas" "clientSecret" "verifiesTokens" ] demoK8sServices.demo
        // {
          inherit (demoK8sServices.demo.env) PORT GREETER_URL AUTH_URL;
        }
      )
      {
        replicas = 1;
        clientSecret = {
          name = "demo-client";
          key = "secret";
        };
        verifiesTokens = true;
        PORT = toString demoPort;
        GREETER_URL = "http://greeter:${toString declared.greeter.port}";
        AUTH_URL = "http://${issuer.name}:${issuerPort}";
      }
    )
    (check "NetworkPolicies: greeter admits demo (its peer), the issuer demo (a token client)" (
      lib.elem "demo" (admittedBy "greeter") && lib.elem "demo" (admittedBy issuer.name)
    ))
    (eq "... and nobody calls demo, so only the edge could (it has no route) and Prometheus"
      (admittedBy "demo")
      [ ]
    )
    (eq "its Deployment: its port and image, services.toml's replica count by default"
      (
        let
          deployment = demoK8s.applications.demo.resources.deployments.demo;
        in
        {
          inherit (deployment.spec) replicas;
          inherit (deployment.spec.template.spec.containers.demo) image;
          port = deployment.spec.template.spec.containers.demo.ports.grpc.containerPort;
        }
      )
      {
        replicas = 1;
        image = "platform/demo:${workspaceVersion}";
        port = demoPort;
      }
    )
    (check "an unknown peer is refused" (
      refusedWith ''[greeter]: peer "nope" is not a service here'' { greeter.peers = [ "nope" ]; }
    ))
    (check "two token issuers are refused" (
      refusedWith "exactly one service sets token_issuer = true, not 2" {
        greeter.token_issuer = true;
      }
    ))
    (check "no token issuer is refused" (
      refusedWith "exactly one service sets token_issuer = true, not 0" {
        ${issuer.name}.token_issuer = false;
      }
    ))
    (check "an unknown kind is refused" (
      refusedWith ''[greeter]: unknown kind "soap"'' { greeter.kind = "soap"; }
    ))
    (check "a port used twice is refused" (
      refusedWith "[greeter]: port ${issuerPort} is ${issuer.name}'s already" {
        greeter.port = issuer.port;
      }
    ))
    (check "an unknown field is refused (the Nix name of a services.toml field too)" (
      refusedWith "[greeter]: unknown field `tokenIssuer`" { greeter.tokenIssuer = true; }
    ))
    (check "a client not naming the issuer is refused" (
      refusedWith "[greeter]: must list ${issuer.name} among its peers" { greeter.peers = [ "caller" ]; }
    ))
    (check "a cycle of peers is refused" (
      refusedWith "peers form a cycle" {
        caller.peers = [
          "greeter"
          issuer.name
        ];
      }
    ))
    (eq "web services: no database, peers or tokens, and they need not name the issuer"
      (platformLib.problems withSites)
      [ ]
    )
    (eq "... declared with no database, http at the edge, no client identity at the issuer"
      {
        inherit (sites.declared.site) kind database peers;
        client = platformLib.isTokenClient sites.declared.site;
        clients = platformLib.tokenClients sites.declared;
        upstreams = platformLib.edgeUpstreams sites.declared { routers = [ siteRouter ]; };
      }
      {
        kind = "web";
        database = null;
        peers = [ ];
        client = false;
        clients = platformLib.tokenClients declared;
        upstreams.site.scheme = "http";
      }
    )
    (eq "... and not deployed by Nix: web services apart, not backend, not services"
      (map lib.attrNames [
        sites.webServices
        sites.backend
        sites.services
      ])
      [
        (lib.attrNames (platform.webServices // { inherit (sites.declared) site site2; }))
        (lib.attrNames backend)
        (lib.attrNames services)
      ]
    )
    (check "every other kind still has a database" (
      lib.all (s: s.database == "${s.name}_db") [
        (platformLib.normalize "x" {
          port = 1;
          kind = "rest";
        })
        (platformLib.normalize "y" { port = 1; })
      ]
    ))
    (check "a web service with a database is refused" (
      refusedWith "[site]: a web service has no database" {
        site = siteTable 8096 // {
          database = "site_db";
        };
      }
    ))
    (check "a web service with peers is refused" (
      refusedWith "[site]: a web service serves files: it has no peers and issues no tokens" {
        site = siteTable 8096 // {
          peers = [ issuer.name ];
        };
      }
    ))
    (check "a web service issuing tokens is refused" (
      refusedWith "[site]: a web service serves files: it has no peers and issues no tokens" {
        site = siteTable 8096 // {
          token_issuer = true;
        };
      }
    ))
    (check "a web service as a peer is refused" (
      refusedWith "[greeter]: peer site is a web service, which nothing calls" {
        site = siteTable 8096;
        greeter.peers = declared.greeter.peers ++ [ "site" ];
      }
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
    )) (map (n: "platform-${n}") (lib.attrNames backend)))
    (eq "listens on loopback by default" (unit "greeter").environment.HOST "127.0.0.1")
    (eq "PORT" (unit "lang").environment.PORT (toString declared.lang.port))
    (eq "peer URL follows the peer's configured port" (unit "greeter").environment.CALLER_URL
      "http://127.0.0.1:9081"
    )
    (eq "gateway's peers" (lib.getAttrs [ "LANG_URL" "AUTH_URL" ] (unit "gateway").environment) {
      LANG_URL = "http://127.0.0.1:${toString declared.lang.port}";
      AUTH_URL = "http://127.0.0.1:${issuerPort}";
    })
    (eq "every client verifies tokens with the local issuer's keys and gets its service token there"
      (lib.genAttrs (platformLib.tokenClients backend) (
        n: lib.getAttrs [ "AUTH_JWKS_URL" "AUTH_TOKEN_URL" ] (unit n).environment
      ))
      (
        lib.genAttrs (platformLib.tokenClients backend) (_: {
          AUTH_JWKS_URL = "http://127.0.0.1:${issuerPort}/auth/.well-known/jwks.json";
          AUTH_TOKEN_URL = "http://127.0.0.1:${issuerPort}/auth/token";
        })
      )
    )
    (check "the issuer reads neither" (
      let
        inherit (unit issuer.name) environment;
      in
      !(environment ? AUTH_JWKS_URL || environment ? AUTH_TOKEN_URL)
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
    (check "client options on the clients only, the clients file on the issuer only" (
      lib.all (
        n:
        (options.services.platform.${n} ? clientSecretFile) == (n != issuer.name)
        && (options.services.platform.${n} ? clientsFile) == (n == issuer.name)
      ) (lib.attrNames backend)
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
        c.DynamicUser
        && c.User == s
        && c.NoNewPrivileges
        && c.ProtectSystem == "strict"
        && c.Restart == "on-failure"
      ) (lib.attrNames backend)
    ))
    (check "ordered after PostgreSQL's setup" (
      lib.all (
        s:
        lib.elem "postgresql-setup.service" (unit s).after
        && lib.elem "postgresql.service" (unit s).after
        && lib.elem "postgresql.target" (unit s).wants
      ) (lib.attrNames backend)
    ))
    (eq "environment file" (unit "auth").serviceConfig.EnvironmentFile [ "/run/secrets/auth.env" ])
    (eq "no environment file" (unit "caller").serviceConfig.EnvironmentFile [ ])
    (eq "firewall" all.networking.firewall.allowedTCPPorts [ declared.greeter.port ])
    (check "local PostgreSQL enabled" all.services.postgresql.enable)
    (eq "one database per service" (lib.sort lib.lessThan all.services.postgresql.ensureDatabases) (
      lib.sort lib.lessThan databases
    ))
    (eq "one role per service" (lib.sort lib.lessThan (
      map (u: u.name) all.services.postgresql.ensureUsers
    )) (lib.attrNames backend))
    (check "each database is owned by its role, and closed to the others" (
      lib.all (
        s:
        lib.all (sql: lib.hasInfix sql all.systemd.services.postgresql-setup.postStart) [
          ''ALTER DATABASE "${s.database}" OWNER TO "${s.name}"''
          ''REVOKE ALL ON DATABASE "${s.database}" FROM PUBLIC''
        ]
      ) (lib.attrValues backend)
    ))
    (eq "no warnings" all.warnings [ ])
    (check "a password in databaseUrl warns" (lib.length remoteDb.warnings == 1))
    (check "createLocalDatabase = false leaves PostgreSQL alone" (
      !remoteDb.services.postgresql.enable
      && !(lib.elem "postgresql.service" remoteDb.systemd.services.platform-caller.after)
    ))
    (eq "disabled services add nothing" nothing.systemd.services { })
    (check "... nor a broker" (!nothing.services.nats.enable))
    (eq "the services that use events: those whose crate depends on crates/events" eventServices (
      lib.filter (
        n:
        builtins.pathExists (root + "/services/${n}/Cargo.toml")
        && (builtins.fromTOML (builtins.readFile (root + "/services/${n}/Cargo.toml"))).dependencies
        ? events
      ) (lib.attrNames backend)
    ))
    (eq "... all five (caller announces call.completed)" eventServices (
      lib.filter (n: declared ? ${n}) [
        "auth"
        "caller"
        "gateway"
        "greeter"
        "lang"
      ]
    ))
    (check "the local NATS: JetStream, on loopback only" (
      all.services.nats.enable
      && all.services.nats.jetstream
      && all.services.nats.settings.host == "127.0.0.1"
    ))
    (eq "NATS_URL: the local broker's port, for exactly the services that use events" (lib.mapAttrs (
      n: _: (unit n).environment.NATS_URL or null
    ) backend) (lib.mapAttrs (n: s: if s.usesEvents then "nats://127.0.0.1:4222" else null) backend))
    (check
      "they start after NATS and want it (a broker restart does not stop them); the others do neither"
      (
        lib.all (
          n:
          (lib.elem "nats.service" (unit n).after && lib.elem "nats.service" (unit n).wants)
          == backend.${n}.usesEvents
        ) (lib.attrNames backend)
      )
    )
    (check "broker.local = false: no local NATS, no ordering on it, NATS_URL from broker.url" (
      !remoteBroker.services.nats.enable
      && lib.all (
        n:
        let
          u = remoteBroker.systemd.services."platform-${n}";
        in
        !(lib.elem "nats.service" u.after) && u.environment.NATS_URL == "nats://nats.internal:4222"
      ) eventServices
    ))
    (check "a machine with caller alone runs the broker it publishes to" (
      callerOnly.services.nats.enable
      && callerOnly.systemd.services.platform-caller.environment ? NATS_URL
    ))
    # ten each, and one secret file each (clientSecretFile, or auth's
    # clientsFile); and the shared broker's two
    (check "option docs render (${toString (lib.length optionDocs)} options)" (
      lib.length optionDocs == 11 * lib.length (lib.attrNames backend) + 2
    ))
  ];
}
