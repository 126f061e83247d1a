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

    # Kubernetes manifests (a later issue wires `gen-manifests` to it).
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
      ...
    }:
    let
      inherit (nixpkgs) lib;
      platformLib = import ./nix/lib.nix { inherit lib; };

      # nix/services.nix, and which of its services exist in this checkout.
      platform = platformLib.platform { root = ./.; };

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

      # Per-service defaults for the Kubernetes manifests, from nix/services.nix.
      lib.services = lib.mapAttrs (
        _: entry:
        platformLib.k8sDefaults {
          inherit (platform) declared;
          inherit entry;
          version = platformLib.crateVersion ./. entry.crateDir;
        }
      ) platform.services;
    }
    // lib.optionalAttrs (platform.devstack != null) {
      apps = forSystems allSystems (s: s.apps);
    };
}
