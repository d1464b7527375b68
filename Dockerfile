# The API image: build with the .NET SDK, run on the ASP.NET runtime as a non-root user.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ConsentRegistry.sln ./
COPY src/ src/
COPY migrations/ migrations/
RUN dotnet publish src/ConsentRegistry.Api -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
RUN mkdir -p /app/data && chown -R app:app /app/data
USER app
ENV ASPNETCORE_URLS=http://+:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["dotnet", "ConsentRegistry.Api.dll", "--healthcheck"]
ENTRYPOINT ["dotnet", "ConsentRegistry.Api.dll"]
