// Vite builds the site into dist/ (hashed files under /assets/, no inline
// script or style: the server's CSP allows neither). The dev server on :5173
// proxies the APIs to the edge, keeping the page's Origin (changeOrigin:
// false): auth allows cookie sessions from http://localhost:5173.

import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

const EDGE = process.env.EDGE_URL ?? "http://localhost:30081";
const API_PREFIXES = ["/auth/", "/lang/", "/greeter.v1.GreeterService/", "/gateway.v1.GatewayService/"];

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    strictPort: true,
    proxy: Object.fromEntries(API_PREFIXES.map((prefix) => [prefix, { target: EDGE, changeOrigin: false }])),
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    // Inlined assets would be data: URLs; keep every asset a file under 'self'.
    assetsInlineLimit: 0,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
    restoreMocks: true,
  },
});
