# Nexus Gateway container image: Node 24 runs the TypeScript sources directly (type stripping).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY web ./web
# npm ci also runs `prepare`, which bundles the offline GraphiQL page into dist/graphiql.
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production PORT=4000 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:4000/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Signals reach node directly (no npm wrapper), so SIGTERM drains the gateway.
CMD ["node", "src/main.ts"]
