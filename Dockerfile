# The image of the API and of the fingerprint worker (ENTRYPOINT: the API; the worker is
# `dotnet ConsentRegistry.Worker.dll`, as docker-compose.yml runs it). Build with the .NET SDK, run on the chiseled ASP.NET runtime (no shell, no
# package manager) as its non-root `app` user. `docker build -t consent-registry .`
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files only, so that a code change reuses the restored layer.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ConsentRegistry.Core/ConsentRegistry.Core.csproj src/ConsentRegistry.Core/
COPY src/ConsentRegistry.Imaging/ConsentRegistry.Imaging.csproj src/ConsentRegistry.Imaging/
COPY src/ConsentRegistry.Api/ConsentRegistry.Api.csproj src/ConsentRegistry.Api/
COPY src/ConsentRegistry.Worker/ConsentRegistry.Worker.csproj src/ConsentRegistry.Worker/
RUN dotnet restore src/ConsentRegistry.Worker -r linux-x64
COPY src/ src/
COPY migrations/ migrations/
# linux-x64 only: without a runtime identifier the publish output carries the native libraries
# (SkiaSharp, SQLite, ONNX Runtime) of every platform, some 450 MB; with it, about 57 MB in all.
# The embedding model (ResNet18, 62 MB) is bundled: POST /v1/images answers embeddings.
# The worker's publish holds the API's assemblies too (it references them): one folder serves both.
RUN dotnet publish src/ConsentRegistry.Api -c Release -r linux-x64 --self-contained false \
      --no-restore -o /app --nologo \
 && dotnet publish src/ConsentRegistry.Worker -c Release -r linux-x64 --self-contained false \
      --no-restore -o /app --nologo \
 && mkdir /data

FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled
WORKDIR /app
# The application files stay owned by root (read-only to the app); only data/, where the
# default SQLite store lives (Data Source=data/registry.db), belongs to the app user.
COPY --from=build /app .
COPY --from=build --chown=app:app /data ./data
USER app
ENV ASPNETCORE_URLS=http://+:8080
EXPOSE 8080
# Liveness, not readiness: a start without an index snapshot builds the index for minutes, and an
# orchestrator that replaces unhealthy containers would restart it before it ever got there.
# /health/ready is for load balancers (and docker-compose.yml, whose healthcheck asks it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["dotnet", "ConsentRegistry.Api.dll", "--healthcheck", "http://127.0.0.1:8080/health/live"]
ENTRYPOINT ["dotnet", "ConsentRegistry.Api.dll"]
