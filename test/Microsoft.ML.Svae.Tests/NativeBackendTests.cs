using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests;

public class NativeBackendTests
{
    [Fact]
    public void TorchSharpTensorOperationRuns()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, b.data<float>().ToArray());
    }
}
