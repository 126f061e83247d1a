# Everything built for one system: crane packages (after crane's
# quick-start-workspace example), OCI images, checks, the devshell.
{
  pkgs,
  crane,
  advisory-db,
  self,
  # the repository (the flake's ./.)
  root,
  # nix/lib.nix's `platform`: the declared and the present services
  platform,
}:
let
  inherit (pkgs) lib;
  platformLib = import ./lib.nix { inherit lib; };
  inherit (pkgs.stdenv.hostPlatform) isLinux isDarwin;

  craneLib = crane.mkLib pkgs;

  # deploy/edge: edge.toml and the Traefik files crates/edge renders from it.
  edge = import ./edge.nix { inherit lib; } root;

  revision = self.rev or "dirty";
  workspaceVersion = (craneLib.crateNameFromCargoToml { cargoToml = root + "/Cargo.toml"; }).version;

  # ---- sources ---------------------------------------------------------------
  # Cargo sources plus exactly what the build reads besides them: the .proto
  # contracts (crates/proto/build.rs compiles every *.proto under ../../proto,
  # so the filter takes every one there, at any depth), each crate's SQL
  # migrations (sqlx::migrate!) and sqlx offline query data if any. A README,
  # script or CI edit changes none of these, so it rebuilds nothing.
  protoFiles = lib.optional (builtins.pathExists (root + "/proto")) (
    lib.fileset.fileFilter (file: file.hasExt "proto") (root + "/proto")
  );
  rootCargoFiles = [
    (root + "/Cargo.toml")
    (root + "/Cargo.lock")
    (lib.fileset.maybeMissing (root + "/.cargo/config.toml"))
    (lib.fileset.maybeMissing (root + "/.sqlx"))
  ]
  ++ protoFiles;
  # What a crate reads at build or test time besides its Cargo sources,
  # migrations and sqlx data, relative to the repository root. Whatever
  # depends on the crate gets these files too (they follow crateClosure).
  crateExtraFiles = {
    # include_str!s the descriptions at the workspace root: services.toml,
    # and deploy/edge/edge.toml for crates/edge (which gets its text from here)
    "crates/catalog" = [
      "services.toml"
      "deploy/edge/edge.toml"
      "deploy/images.toml"
    ];
    # its tests compare the committed deploy/compose/ with a fresh render
    "crates/compose" = [ "deploy/compose" ];
    # its tests compare the committed deploy/edge/traefik/*.yml with a fresh render
    "crates/edge" = [ "deploy/edge/traefik" ];
    # new-service renders its templates; a test checks the README's Access table
    "xtask" = [
      "xtask/templates"
      "README.md"
    ];
  };
  crateFiles =
    dir:
    let
      path = root + "/${dir}";
    in
    lib.fileset.unions (
      [
        (craneLib.fileset.commonCargoSources path)
        (lib.fileset.maybeMissing (path + "/.sqlx"))
      ]
      ++ lib.optional (builtins.pathExists (path + "/migrations")) (
        lib.fileset.fileFilter (file: file.hasExt "sql") (path + "/migrations")
      )
      ++ map (file: lib.fileset.maybeMissing (root + "/${file}")) (crateExtraFiles.${dir} or [ ])
    );
  sourceOf =
    files:
    lib.fileset.toSource {
      inherit root;
      fileset = lib.fileset.unions files;
    };

  members = platformLib.workspaceMembers root;

  # The whole workspace: dependencies, clippy, tests, docs, formatting.
  workspaceFiles =
    rootCargoFiles ++ [ (lib.fileset.maybeMissing (root + "/rustfmt.toml")) ] ++ map crateFiles members;
  src = sourceOf workspaceFiles;

  # One crate and the crates it reaches by path, so that a change to another
  # service does not rebuild this one. The workspace's `members` are globs, so
  # cargo accepts the missing members (see crane's quick-start-workspace).
  sourceForCrate =
    dir: sourceOf (rootCargoFiles ++ map crateFiles (platformLib.crateClosure root dir));

  # ---- builds ----------------------------------------------------------------
  commonArgs = {
    inherit src;
    pname = "platform-workspace";
    version = workspaceVersion;
    strictDeps = true;

    buildInputs = lib.optionals isDarwin [ pkgs.libiconv ];

    # Never try to reach a database at compile time (sqlx macros).
    env.SQLX_OFFLINE = "true";
  };

  # The dependencies of the whole workspace, built once and shared by every
  # package and check.
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  buildCrate =
    dir:
    let
      pname = platformLib.crateName root dir;
    in
    craneLib.buildPackage (
      commonArgs
      // {
        inherit cargoArtifacts pname;
        version = platformLib.crateVersion root dir;
        src = sourceForCrate dir;
        cargoExtraArgs = "-p ${pname}";
        # Tests run once, for the whole workspace, in checks.nextest.
        doCheck = false;
        meta = {
          mainProgram = pname;
          license = [
            lib.licenses.mit
            lib.licenses.asl20
          ];
        };
      }
    );

  servicePackages = lib.mapAttrs (_: entry: buildCrate entry.crateDir) platform.services;

  # The web services' servers, for `nix run .#dev`: devstack starts every
  # service of services.toml. They serve the checkout's web/dist (or say how
  # to build it); Nix builds the site itself, and deploys web, in issue 21.
  webPackages = lib.mapAttrs (_: entry: buildCrate entry.crateDir) (
    lib.filterAttrs (
      _: s: builtins.pathExists (root + "/${s.crateDir}/Cargo.toml")
    ) platform.webServices
  );

  # The web front end (web/dist), from the committed lock (nix/site.nix).
  site = import ./site.nix {
    inherit pkgs root;
    version = workspaceVersion;
  };

  devstack = if platform.devstack == null then null else buildCrate platform.devstack;

  # The images' health check (`probe <url>`): no shell or curl in them.
  probe = buildCrate "crates/probe";

  # ---- SBOMs -----------------------------------------------------------------
  # A CycloneDX 1.5 SBOM per service, by cargo-cyclonedx from the service's
  # own source and the vendored lock file: what the binary is built from for
  # this system's target (CI writes the same with the same tool, and checks it
  # against the schema and `cargo metadata`). Each image carries its SBOM.
  rustTarget = pkgs.stdenv.hostPlatform.rust.rustcTarget;
  mkSbom =
    name: entry:
    let
      pname = platformLib.crateName root entry.crateDir;
    in
    craneLib.mkCargoDerivation (
      commonArgs
      // {
        pname = "${name}-sbom";
        version = platformLib.crateVersion root entry.crateDir;
        src = sourceForCrate entry.crateDir;
        cargoArtifacts = null;
        doInstallCargoArtifacts = false;
        nativeBuildInputs = [ pkgs.cargo-cyclonedx ];
        buildPhaseCargoCommand = ''
          cargo cyclonedx --manifest-path ${entry.crateDir}/Cargo.toml \
            --format json --spec-version 1.5 --target ${rustTarget}
        '';
        installPhaseCommand = ''
          install -Dm644 ${entry.crateDir}/${pname}.cdx.json $out/share/sbom/${name}.cdx.json
        '';
      }
    );
  sboms = lib.mapAttrs mkSbom platform.services;
  # Where an image holds its SBOM (the label dev.platform.sbom says so too).
  sbomPath = name: "/share/sbom/${name}.cdx.json";

  # ---- images ----------------------------------------------------------------
  # What every platform image is: the server as entry point, a fixed non-root
  # user, its port, a Docker health check with probe on /readyz and the OCI
  # labels; no shell, no package manager. Each kind adds its `contents`, the
  # `env` between PORT and TZDIR, and `labels`.
  # `docker load < result`, `kind load image-archive result`.
  mkPlatformImage =
    {
      name,
      entry,
      package,
      contents,
      env,
      labels ? { },
    }:
    let
      version = platformLib.crateVersion root entry.crateDir;
      uid = toString platformLib.uid;
    in
    pkgs.dockerTools.buildLayeredImage {
      name = "platform/${name}";
      tag = version;
      inherit contents;
      config = {
        Entrypoint = [ (lib.getExe' package name) ];
        User = "${uid}:${uid}";
        ExposedPorts."${toString entry.port}/tcp" = { };
        # Docker's health check (Kubernetes has its own probes); durations in ns.
        Healthcheck = {
          Test = [
            "CMD"
            "/bin/probe"
            "http://127.0.0.1:${toString entry.port}/readyz"
          ];
          Interval = 10000000000;
          Timeout = 3000000000;
          StartPeriod = 60000000000;
          Retries = 3;
        };
        Env = [
          "HOST=0.0.0.0"
          "PORT=${toString entry.port}"
        ]
        ++ env
        ++ [ "TZDIR=${pkgs.tzdata}/share/zoneinfo" ];
        Labels = {
          "org.opencontainers.image.title" = name;
          "org.opencontainers.image.description" = entry.description;
          "org.opencontainers.image.version" = version;
          "org.opencontainers.image.revision" = revision;
          "org.opencontainers.image.licenses" = "MIT OR Apache-2.0";
        }
        // labels;
      };
    };

  # A backend service: its binary, probe, CA certificates, tzdata and its SBOM.
  mkImage =
    name: entry:
    mkPlatformImage {
      inherit name entry;
      package = servicePackages.${name};
      contents = [
        pkgs.cacert
        pkgs.tzdata
        probe
        sboms.${name}
      ];
      env = [ "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt" ];
      labels = {
        "dev.platform.sbom" = sbomPath name;
        "dev.platform.sbom.format" = "CycloneDX 1.5 JSON";
      };
    };

  images = lib.mapAttrs mkImage platform.services;

  # A web service: its server, probe, tzdata and the site at /srv/web
  # (WEB_DIST); no CA certificates (it calls nothing).
  webRoot = "/srv/web";
  siteRoot = pkgs.runCommandLocal "platform-site-root" { } ''
    mkdir -p $out${webRoot}
    cp -r ${site}/. $out${webRoot}/
  '';
  mkWebImage =
    name: package:
    mkPlatformImage {
      inherit name package;
      entry = platform.webServices.${name};
      contents = [
        pkgs.tzdata
        probe
        siteRoot
      ];
      env = [ "WEB_DIST=${webRoot}" ];
    };
  webImages = lib.mapAttrs mkWebImage webPackages;

  # ---- checks ----------------------------------------------------------------
  # Tests that read JSON Schemas from beside the repository (../shared/schemas),
  # which a flake's source has not: <crate dir>/tests/schema.rs, as
  # nextest's binary ids (<crate>::schema).
  outsideSchemaTests = map (dir: "${platformLib.crateName root dir}::schema") (
    lib.filter (dir: builtins.pathExists (root + "/${dir}/tests/schema.rs")) [
      "crates/edge"
      "crates/compose"
      "xtask"
    ]
  );
  nixFiles = sourceOf [ (lib.fileset.fileFilter (file: file.hasExt "nix") root) ];

  checks = servicePackages // {
    clippy = craneLib.cargoClippy (
      commonArgs
      // {
        inherit cargoArtifacts;
        cargoClippyExtraArgs = "--all-targets -- -D warnings";
      }
    );

    fmt = craneLib.cargoFmt { inherit (commonArgs) src pname version; };

    doc = craneLib.cargoDoc (commonArgs // { inherit cargoArtifacts; });

    # .cargo/audit.toml holds the one ignored advisory and why; CI's
    # `cargo audit` reads the same file.
    audit = craneLib.cargoAudit {
      inherit (commonArgs) pname version;
      src = sourceOf (workspaceFiles ++ [ (root + "/.cargo/audit.toml") ]);
      inherit advisory-db;
    };

    deny = craneLib.cargoDeny (
      commonArgs
      // {
        src = sourceOf (workspaceFiles ++ [ (root + "/deny.toml") ]);
      }
    );

    # The tests start their PostgreSQL from TEST_DATABASE_URL: one server for
    # the whole run, started here (nextest runs every test in its own process,
    # and testkit would otherwise initdb once per process). The build sandbox
    # has its own network namespace, so the fixed loopback port is free.
    nextest = craneLib.cargoNextest (
      commonArgs
      // {
        inherit cargoArtifacts;
        partitions = 1;
        partitionType = "count";
        cargoNextestPartitionsExtraArgs = "--no-tests=fail";
        cargoNextestExtraArgs =
          lib.optionalString (outsideSchemaTests != [ ])
            "-E '${lib.concatMapStringsSep " and " (id: "not binary_id(${id})") outsideSchemaTests}'";
        nativeBuildInputs = [
          pkgs.postgresql
          # crates/compose runs deploy/compose/secrets.sh (and psql, above)
          pkgs.openssl
          # crates/events' tests run a real nats-server (JetStream)
          pkgs.nats-server
          # the tests send SIGTERM with kill(1)
          pkgs.procps
        ];
        preCheck = ''
          export PGDATA="$TMPDIR/pgdata" PGSOCKETS="$TMPDIR/pgsockets"
          mkdir -p "$PGSOCKETS"
          initdb --no-sync --auth=trust --username=postgres --encoding=UTF8 --locale=C -D "$PGDATA" >/dev/null
          pg_ctl -D "$PGDATA" -l "$TMPDIR/postgres.log" -w start -o \
            "-c listen_addresses=127.0.0.1 -p 54329 -c unix_socket_directories=$PGSOCKETS -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500"
          export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:54329/postgres"
        '';
        postCheck = ''
          pg_ctl -D "$PGDATA" -m fast -w stop
        '';
      }
    );

    nixfmt = pkgs.runCommandLocal "platform-nixfmt" { nativeBuildInputs = [ pkgs.nixfmt ]; } ''
      cd ${nixFiles}
      find . -name '*.nix' -print0 | xargs -0 nixfmt --check
      touch $out
    '';
  };

  # NixOS VM tests (nix/tests/vm-*.nix): the platform on one NixOS machine
  # from the flake's own modules, behind Traefik configured from the
  # committed edge files (so only once those exist).
  vmCommon = import ./tests/vm-common.nix {
    inherit platform platformLib edge;
    nixosModule = self.nixosModules.default;
  };
  vmTests = lib.optionalAttrs edge.present {
    vm-platform = pkgs.testers.runNixOSTest (import ./tests/vm-platform.nix { common = vmCommon; });
    vm-restart = pkgs.testers.runNixOSTest (import ./tests/vm-restart.nix { common = vmCommon; });
  };

  # ---- nix run .#dev -----------------------------------------------------------
  # devstack looks for the service binaries next to its own executable, then
  # on PATH; PostgreSQL (initdb, postgres, psql) and traefik on PATH. Its data
  # (the cluster, auth's dev signing key, the edge's files) goes to .devstack/
  # at the root of the checkout `nix run` is started in (or --data-dir).
  devApp =
    if devstack == null then
      null
    else
      pkgs.writeShellApplication {
        name = "platform-dev";
        runtimeInputs = [
          devstack
          pkgs.postgresql
          pkgs.traefik
        ]
        ++ lib.attrValues servicePackages
        ++ lib.attrValues webPackages;
        text = ''exec devstack up "$@"'';
      };

  # ---- devshell --------------------------------------------------------------
  banner = lib.concatStringsSep "\n" (
    [
      "platform dev shell: Rust ${pkgs.rustc.version}, PostgreSQL ${pkgs.postgresql.version}, Traefik ${pkgs.traefik.version}"
      "  cargo test --workspace      every test (starts its own PostgreSQL)"
    ]
    ++ lib.optionals (devstack != null) [
      "  cargo build && target/debug/devstack up"
      "                              the platform from this checkout's binaries (found beside devstack)"
      "  nix run .#dev               the platform from Nix-built binaries (devstack up)"
      "  target/debug/devstack status   what is up (devstack psql <service>: its database)"
      "  tilt up                     the platform on a kind cluster (deploy/k8s)"
    ]
    ++ [
      "  nix build .#<service>       one binary: ${lib.concatStringsSep ", " (lib.attrNames servicePackages)}"
    ]
    ++ lib.optional isLinux "  nix build .#images          every OCI image (docker load < result/<service>.tar.gz)"
    ++ [
      "  nix flake check             fmt, clippy, nextest, doc, audit, deny, nixfmt${lib.optionalString isLinux ", VM tests"}"
      "  nix fmt                     format the Nix files"
    ]
  );

  # Every tool the README names, and nothing built from this workspace:
  # entering the shell compiles nothing (devstack is `cargo build` away, and
  # one compile error must not keep anyone out of the shell).
  devShellPackages = [
    pkgs.rust-analyzer
    pkgs.postgresql
    pkgs.traefik
    pkgs.buf
    pkgs.sqlx-cli
    pkgs.cargo-nextest
    pkgs.nodejs
    pkgs.python3
    pkgs.curl
    pkgs.kubectl
    pkgs.kind
    pkgs.tilt
    pkgs.nixfmt
    # the event tests' broker (nats-server -js)
    pkgs.nats-server
    # deploy/compose/secrets.sh
    pkgs.openssl
    # what CI runs besides cargo's own tools
    pkgs.cargo-audit
    pkgs.cargo-deny
    pkgs.cargo-cyclonedx
  ];
  devShell = craneLib.devShell {
    packages = devShellPackages;
    RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";
    shellHook = ''
      printf '%s\n' ${lib.escapeShellArg banner}
    '';
  };
in
{
  packages =
    servicePackages
    // lib.optionalAttrs (devstack != null) { inherit devstack; }
    // lib.mapAttrs' (name: sbom: lib.nameValuePair "${name}-sbom" sbom) sboms
    // {
      inherit probe site;
      sboms = pkgs.symlinkJoin {
        name = "platform-sboms";
        paths = lib.attrValues sboms;
      };
    }
    // lib.optionalAttrs isLinux (
      lib.mapAttrs' (name: image: lib.nameValuePair "${name}-image" image) (images // webImages)
      // {
        images = pkgs.linkFarm "platform-images" (
          lib.mapAttrsToList (name: image: {
            name = "${name}.tar.gz";
            path = image;
          }) (images // webImages)
        );
      }
    );

  checks = lib.optionalAttrs isLinux (checks // vmTests);

  inherit devShell;

  apps = lib.optionalAttrs (devstack != null) {
    dev = {
      type = "app";
      program = lib.getExe devApp;
      meta.description = "The platform locally: devstack up with the Nix-built services, PostgreSQL, Traefik";
    };
  };

  # For nix/tests/eval.nix: what `nix run .#dev` runs.
  inherit devApp;

  formatter = pkgs.nixfmt-tree;
}
