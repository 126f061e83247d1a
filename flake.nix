{
  description = "platform: Rust microservices (gRPC, gRPC-Web, Connect, REST) on PostgreSQL";

  inputs = {
    # crane's current releases expect nixpkgs 26.05 or newer.
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

    crane.url = "github:ipetkov/crane/v0.23.4";

    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };

    # Kubernetes manifests: nixidyEnvs and `nix run .#gen-manifests` (nix/k8s).
    nixidy = {
      url = "github:arnarg/nixidy";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
      advisory-db,
      nixidy,
      ...
    }:
    let
      inherit (nixpkgs) lib;
      platformLib = import ./nix/lib.nix { inherit lib; };

      # services.toml, and which of its services exist in this checkout.
      platform = platformLib.platform { root = ./.; };

      # The Kubernetes environments (nixidy modules) and per-service defaults.
      k8s = import ./nix/k8s {
        inherit lib;
        root = ./.;
      };

      linuxSystems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      # Binaries and the devshell; images, checks and VM tests are Linux-only.
      darwinSystems = [
        "aarch64-darwin"
        "x86_64-darwin"
      ];
      allSystems = linuxSystems ++ darwinSystems;

      perSystem = lib.genAttrs allSystems (
        system:
        import ./nix/packages.nix {
          pkgs = nixpkgs.legacyPackages.${system};
          inherit
            crane
            advisory-db
            self
            platform
            ;
          root = ./.;
        }
      );
      forSystems = systems: f: lib.genAttrs systems (system: f perSystem.${system});

      serviceModules = lib.mapAttrs (
        name: entry:
        import ./nix/module.nix {
          inherit name entry;
          inherit (platform) declared;
          packageFor = pkgs: self.packages.${pkgs.stdenv.hostPlatform.system}.${name};
        }
      ) platform.services;
    in
    {
      packages = forSystems allSystems (s: s.packages);

      checks = forSystems linuxSystems (s: s.checks);

      devShells = forSystems allSystems (s: {
        default = s.devShell;
      });

      formatter = forSystems allSystems (s: s.formatter);

      nixosModules = serviceModules // {
        default = {
          imports = lib.attrValues serviceModules;
        };
      };

      # Per-service defaults for the Kubernetes manifests, from services.toml.
      lib.services = k8s.services;

      # nixidy environments dev and prod (`nixidy build .#dev` works too);
      # the manifests live in deploy/k8s/manifests/<env>/.
      nixidyEnvs = lib.genAttrs allSystems (
        system:
        k8s.mkEnvs {
          nixidyLib = nixidy.lib;
          pkgs = nixpkgs.legacyPackages.${system};
        }
      );

      apps = lib.genAttrs allSystems (
        system:
        perSystem.${system}.apps
        // {
          gen-manifests = {
            type = "app";
            program = lib.getExe (
              k8s.genManifests {
                inherit system;
                pkgs = nixpkgs.legacyPackages.${system};
                nixidyEnvs = self.nixidyEnvs.${system};
              }
            );
            meta.description = "Write every Kubernetes environment to deploy/k8s/manifests/<env>/ (nixidy switch)";
          };
        }
      );
    };
}
