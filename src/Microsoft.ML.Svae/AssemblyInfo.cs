// Assembly-level attributes of Microsoft.ML.Svae.
[assembly: System.CLSCompliant(false)]
