using System.Data;
using ConsentRegistry.Core.Claims;
using Dapper;

namespace ConsentRegistry.Api.Storage;

/// <summary>Trust is stored by its wire name ('signed', 'domain', 'reviewed'), in both directions, here only.</summary>
internal sealed class TrustLevelTypeHandler : SqlMapper.TypeHandler<TrustLevel>
{
    public override void SetValue(IDbDataParameter parameter, TrustLevel value)
    {
        parameter.DbType = DbType.String;
        parameter.Value = value.ToWire();
    }

    public override TrustLevel Parse(object value) => TrustLevel.Parse((string)value);
}
